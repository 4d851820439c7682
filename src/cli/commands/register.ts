import { writeFileAtomic } from "../../model/atomic-write.js";
import type { ImportProfileName } from "../../store/profiles.js";
import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { type LedgerFlags, ledgerOptions, ownerFlag, storeSettings } from "./ledger-flags.js";
import { type ManifestFlags, manifestInput } from "./manifest-flags.js";

export interface RegisterFlags extends LedgerFlags, ManifestFlags {
  upload?: boolean;
  encrypt?: boolean;
  key?: string;
  profile?: ImportProfileName;
  manifestOut?: string;
}

export async function register(flags: RegisterFlags, globals: GlobalOptions): Promise<void> {
  const { ProvmarkError } = await import("../../errors.js");
  if (flags.encrypt && !flags.key) {
    throw new ProvmarkError("USAGE", "--encrypt needs --key <file> (the envelope key derives from it)", {
      subject: "--encrypt",
    });
  }
  if (flags.encrypt && !flags.upload) {
    throw new ProvmarkError("USAGE", "--encrypt only applies with --upload", { subject: "--encrypt" });
  }
  let envelopeKey: Uint8Array | undefined;
  if (flags.encrypt && flags.key) {
    const { readKeyFile } = await import("../../watermark/key-file.js");
    const { getPassphrase } = await import("../../watermark/passphrase.js");
    const { envelopeKey: derive } = await import("../../core/keys/derive.js");
    envelopeKey = derive((await readKeyFile(flags.key, await getPassphrase())).seed);
  }
  const { registerRelease } = await import("../../release/register-release.js");
  const result = await registerRelease({
    ...manifestInput(flags),
    upload: !!flags.upload,
    envelopeKey,
    ...(flags.profile ? { profile: flags.profile } : {}),
    ledger: ledgerOptions(flags, globals),
    store: storeSettings(flags, globals),
    owner: flags.owner === undefined ? null : ownerFlag(flags),
    onStage: (s) => {
      if (!flags.json && process.stderr.isTTY) process.stderr.write(`${s}…\n`);
    },
  });
  if (flags.manifestOut) {
    await writeFileAtomic(flags.manifestOut, `${JSON.stringify(result.manifest, null, 2)}\n`);
  }
  const { manifest, ...out } = result;
  emit({ ...out, files: manifest.model.files.length, uploaded: manifest.ipfs.artifacts.length }, flags, (r) =>
    [
      `registered ${r.name} ${r.version}`,
      `  digest:        ${r.digest}`,
      `  parent:        ${r.parent ?? "(none: a root version)"}`,
      `  certificate:   ${r.certificateHash ?? "(none)"}`,
      `  manifest CID:  ${r.manifestCid}${r.uploaded ? ` (+ ${r.uploaded} files in IPFS)` : ""}`,
      `  transaction:   ${r.txHash} (block ${r.blockNumber}, ${r.registeredAt})`,
      `  registry:      ${r.contract} on chain ${r.chainId} (${r.rpc})`,
      `  model:         ${r.modelId} (owner ${r.owner})`,
      `  registrant:    ${r.registrant}${r.modelCreatedTx ? " (created the model namespace)" : ""}`,
      ...r.alsoRegisteredBy.map(
        (x) =>
          `  NOTE: the same digest is also registered by ${x.owner} (model ${x.modelId}); it does not affect yours`,
      ),
    ].join("\n"),
  );
}
