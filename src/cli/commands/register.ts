import { writeFileAtomic } from "../../model/atomic-write.js";
import type { ImportProfileName } from "../../store/profiles.js";
import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { type LedgerFlags, ledgerOptions, storeSettings } from "./ledger-flags.js";

export interface RegisterFlags extends LedgerFlags {
  model: string;
  cert?: string;
  parent?: string;
  name?: string;
  version?: string;
  license?: string;
  trainingData?: string[];
  description?: string;
  meta?: string[];
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
    model: flags.model,
    cert: flags.cert,
    parent: flags.parent,
    name: flags.name,
    version: flags.version,
    license: flags.license,
    trainingData: flags.trainingData,
    description: flags.description,
    extra: parseMeta(flags.meta ?? [], ProvmarkError),
    upload: !!flags.upload,
    envelopeKey,
    ...(flags.profile ? { profile: flags.profile } : {}),
    ledger: ledgerOptions(flags, globals),
    store: storeSettings(flags, globals),
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
      `  registrant:    ${r.registrant}${r.modelCreatedTx ? " (created the model namespace)" : ""}`,
    ].join("\n"),
  );
}

function parseMeta(pairs: string[], E: typeof import("../../errors.js").ProvmarkError): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf("=");
    if (i < 1) throw new E("USAGE", `--meta takes key=value, got ${JSON.stringify(p)}`, { subject: "--meta" });
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}
