import type { VersionRecord } from "../../ledger/registry-client.js";
import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { iso, type LedgerFlags, ledgerOptions } from "./ledger-flags.js";

/** A model's versions (by name) or a version's lineage and siblings (by digest), with revocations. */
export async function history(target: string, flags: LedgerFlags, globals: GlobalOptions): Promise<void> {
  const { openLedger } = await import("../../ledger/open-ledger.js");
  const { modelIdOf } = await import("../../ledger/registry-client.js");
  const byDigest = /^(0x)?[0-9a-fA-F]{64}$/.test(target.trim());
  const ledger = await openLedger({ ...ledgerOptions(flags, globals), access: "read" });
  try {
    const registry = ledger.registry;
    let versions: VersionRecord[] = [];
    let lineage: VersionRecord[] = [];
    if (registry && byDigest) {
      const { toBytes32 } = await import("../../core/digest/hex-digest.js");
      const digest = toBytes32(target);
      lineage = await registry.lineage(digest);
      if (lineage[0]) versions = await registry.versionsOf(lineage[0].modelId);
    } else if (registry) {
      versions = await registry.versionsOf(modelIdOf(target));
    }
    const view = (v: VersionRecord) => ({
      ...v,
      digest: v.digest.slice(2),
      parent: v.parent?.slice(2) ?? null,
      certificateHash: v.certificateHash?.slice(2) ?? null,
      registeredAt: iso(v.registeredAt),
      revokedAt: iso(v.revokedAt),
      status: v.revokedAt === null ? "registered" : "revoked",
    });
    const result = {
      query: target,
      kind: byDigest ? "digest" : "model",
      found: versions.length > 0,
      chainId: ledger.chainId.toString(),
      contract: registry?.address ?? null,
      rpc: ledger.rpc,
      modelId: lineage[0]?.modelId ?? (byDigest ? null : modelIdOf(target)),
      lineage: lineage.map(view),
      versions: versions.map(view),
    };
    emit(result, flags, (r) => {
      if (!r.found) return `${r.query}: nothing registered on ${r.rpc}`;
      const lines = [`model ${r.modelId} on chain ${r.chainId} (${r.rpc}), registry ${r.contract}`];
      if (r.lineage.length) {
        lines.push("", `lineage of ${r.query} (newest first):`);
        for (const v of r.lineage) lines.push(`  ${v.digest}  ${v.registeredAt}${v.revokedAt ? "  REVOKED" : ""}`);
      }
      lines.push("", `versions (${r.versions.length}, in registration order):`);
      for (const v of r.versions) {
        lines.push(`  ${v.digest}  registered ${v.registeredAt} by ${v.registrant}`);
        lines.push(`      parent ${v.parent ?? "(root)"}  manifest ${v.manifestCid}`);
        if (v.revokedAt) lines.push(`      REVOKED ${v.revokedAt}: ${v.revocationReason}`);
      }
      return lines.join("\n");
    });
    if (!result.found) process.exitCode = 5;
  } finally {
    await ledger.close();
  }
}
