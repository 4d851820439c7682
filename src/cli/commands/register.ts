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
  signOnly?: boolean;
  out?: string;
  validFor?: string;
  nonce?: string;
}

/** `--valid-for`: 90s, 30m, 24h, 7d (or plain seconds), up to a year. */
export function parseValidFor(v: string, ProvmarkError: typeof import("../../errors.js").ProvmarkError): number {
  const m = /^(\d+)([smhd]?)$/.exec(v.trim());
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86_400 }[m?.[2] ?? ""] ?? 1;
  const seconds = m ? Number(m[1]) * unit : Number.NaN;
  if (!(seconds >= 1 && seconds <= 366 * 86_400)) {
    throw new ProvmarkError("USAGE", `--valid-for must be a duration like 30m, 24h or 7d (at most 366d), got ${v}`, {
      subject: "--valid-for",
    });
  }
  return seconds;
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
  if (flags.signOnly) return signOnly(flags, globals, envelopeKey);
  if (flags.out !== undefined || flags.validFor !== undefined || flags.nonce !== undefined) {
    throw new ProvmarkError("USAGE", "--out, --valid-for and --nonce only apply with --sign-only", {
      subject: "--sign-only",
    });
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

/** `--sign-only`: the owner signs the registration for a relayer; nothing is sent. */
async function signOnly(flags: RegisterFlags, globals: GlobalOptions, envelopeKey: Uint8Array | undefined) {
  const { ProvmarkError } = await import("../../errors.js");
  if (!flags.out) {
    throw new ProvmarkError("USAGE", "--sign-only needs --out <file> for the signed request", { subject: "--out" });
  }
  if (flags.nonce !== undefined && !/^\d{1,20}$/.test(flags.nonce)) {
    throw new ProvmarkError("USAGE", `--nonce must be a non-negative integer, got ${flags.nonce}`, {
      subject: "--nonce",
    });
  }
  const { assertOutputFree } = await import("../../model/atomic-write.js");
  await assertOutputFree(flags.out, false, "Choose another --out path (a signed request is never overwritten).");
  const { signRegistration } = await import("../../release/sign-registration.js");
  const r = await signRegistration({
    ...manifestInput(flags),
    upload: !!flags.upload,
    envelopeKey,
    ...(flags.profile ? { profile: flags.profile } : {}),
    ledger: ledgerOptions(flags, globals),
    store: storeSettings(flags, globals),
    owner: flags.owner === undefined ? null : ownerFlag(flags),
    validForSeconds: parseValidFor(flags.validFor ?? "24h", ProvmarkError),
    ...(flags.nonce === undefined ? {} : { nonce: BigInt(flags.nonce) }),
    onStage: (s) => {
      if (!flags.json && process.stderr.isTTY) process.stderr.write(`${s}…\n`);
    },
  });
  await writeFileAtomic(flags.out, `${JSON.stringify(r.request, null, 2)}\n`);
  const { request, ...out } = r;
  emit({ ...out, out: flags.out }, flags, (o) =>
    [
      `signed ${o.name} ${o.version} for a relayer (nothing sent) -> ${o.out}`,
      `  digest:        ${o.digest}`,
      `  model:         ${o.modelId} (owner ${o.owner})`,
      `  signer:        ${o.signer}, nonce ${o.nonce}`,
      `  valid until:   ${o.deadline}`,
      `  registry:      ${o.contract} on chain ${o.chainId}`,
      `  manifest CID:  ${o.manifestCid}`,
      `  next: provmark relay ${o.out}   (from any funded account)`,
    ].join("\n"),
  );
}
