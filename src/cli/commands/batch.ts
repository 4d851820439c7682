import { writeFileAtomic } from "../../model/atomic-write.js";
import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { type LedgerFlags, ledgerOptions, ownerFlag, storeSettings } from "./ledger-flags.js";
import { type ManifestFlags, manifestInput } from "./manifest-flags.js";

/** Anchors many release manifests with one Merkle root; writes the batch (with every proof) to --out. */
export async function batchAnchor(
  manifests: string[],
  flags: LedgerFlags & { out?: string },
  globals: GlobalOptions,
): Promise<void> {
  const { anchorManifests } = await import("../../release/batch-anchor.js");
  const r = await anchorManifests(manifests, {
    ledger: ledgerOptions(flags, globals),
    store: storeSettings(flags, globals),
    owner: ownerFlag(flags),
  });
  if (flags.out) await writeFileAtomic(flags.out, `${JSON.stringify(r.document, null, 2)}\n`);
  const { document, ...out } = r;
  emit(
    {
      ...out,
      owner: document.owner,
      out: flags.out ?? null,
      records: document.records.map((x) => ({ name: x.name, version: x.version, digest: x.digest, leaf: x.leaf })),
    },
    flags,
    (o) =>
      [
        `anchored ${o.count} versions of ${o.owner}'s models under root ${o.root}`,
        `  transaction: ${o.txHash} (block ${o.blockNumber}, ${o.anchoredAt})`,
        `  batch CID:   ${o.batchCid}${o.out ? ` (also written to ${o.out})` : ""}`,
        `  registry:    ${o.contract} on chain ${o.chainId} (${o.rpc})`,
      ].join("\n"),
  );
}

/** Builds a release manifest without registering it (for batch anchoring or review). */
export async function manifest(flags: LedgerFlags & ManifestFlags & { out: string; force?: boolean }): Promise<void> {
  const { assertOutputFree } = await import("../../model/atomic-write.js");
  const { buildManifest } = await import("../../release/build-manifest.js");
  await assertOutputFree(flags.out, !!flags.force, "Pass --force to replace it.");
  const { manifest: m } = await buildManifest(manifestInput(flags));
  await writeFileAtomic(flags.out, `${JSON.stringify(m, null, 2)}\n`);
  emit(
    {
      out: flags.out,
      name: m.name,
      version: m.version,
      digest: m.model.filesDigest,
      parent: m.parent,
      certificateHash: m.certificate?.hash ?? null,
    },
    flags,
    (o) => `wrote manifest ${o.out}: ${o.name} ${o.version}, digest ${o.digest}`,
  );
}
