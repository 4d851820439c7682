import { ExitCode } from "../../errors.js";
import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { iso, type LedgerFlags, ledgerOptions, ownerFlag, storeSettings, unchecked } from "./ledger-flags.js";

/** Whose release under which model the files must be (see docs/ledger.md, "Identity-bound checks"). */
interface IdentityFlags {
  model?: string;
  modelId?: string;
  requireOwner?: boolean;
}

interface SignatureFlags {
  signature?: string;
  publicKey?: string;
  certificateChain?: string[];
}

/**
 * Hashes a directory and reports registered / unregistered / revoked, with lineage (exit 0 / 5 / 6).
 * With a signature flag, first verifies the model against its model-signing signature (exit 7 when
 * it does not verify), then the signature's root digest against the registered manifest's.
 */
export async function check(
  dir: string,
  flags: LedgerFlags & SignatureFlags & IdentityFlags & { manifest?: boolean },
  globals: GlobalOptions,
): Promise<void> {
  const { checkModel, assertSignatureMatchesManifest, ownerRequired, requireOwnerFromEnv } = await import(
    "../../release/check-model.js"
  );
  const expectedOwner = ownerFlag(flags);
  // before hashing or verifying anything: a required owner check that cannot happen is a usage error
  if (expectedOwner === null && (flags.requireOwner || requireOwnerFromEnv())) throw ownerRequired(dir);
  if (flags.modelId !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(flags.modelId)) {
    const { ProvmarkError } = await import("../../errors.js");
    throw new ProvmarkError("USAGE", `--model-id must be a 0x-prefixed 32-byte hex id, got ${flags.modelId}`, {
      subject: "--model-id",
    });
  }
  const signed = await verifySignatureFlags(dir, flags);
  const r = await checkModel(
    dir,
    ledgerOptions(flags, globals),
    flags.manifest ? storeSettings(flags, globals) : undefined,
    { owner: expectedOwner, name: flags.model, modelId: flags.modelId },
  );
  const signature = signed
    ? {
        verified: true,
        path: signed.signaturePath,
        method: signed.method,
        rootDigest: signed.rootDigest,
        signer: signed.certificatePath ?? null,
        matchesManifest: assertSignatureMatchesManifest(signed.rootDigest, r.manifest, signed.signaturePath),
      }
    : null;
  const lineage = r.lineage.map((v) => ({
    digest: v.digest.slice(2),
    registeredAt: iso(v.registeredAt),
    registrant: v.registrant,
    revokedAt: iso(v.revokedAt),
    revocationReason: v.revocationReason,
    manifestCid: v.manifestCid,
    certificateHash: v.certificateHash?.slice(2) ?? null,
    txHash: v.txHash,
  }));
  const rec = lineage[0] ?? null;
  emit(
    {
      path: dir,
      status: r.status,
      digest: r.digest,
      weightsDigest: r.weightsDigest,
      modelId: r.record?.modelId ?? null,
      owner: r.record?.owner ?? null,
      expectedOwner,
      expectedModel: r.expectedModel,
      ownerChecked: expectedOwner !== null,
      // Registrations of the same files in other namespaces: anyone may register a copy.
      alsoRegisteredBy: r.others.map((o) => ({
        owner: o.owner,
        modelId: o.modelId,
        registeredAt: iso(o.registeredAt),
      })),
      registeredAt: rec?.registeredAt ?? null,
      registrant: rec?.registrant ?? null,
      revokedAt: rec?.revokedAt ?? null,
      revocationReason: rec?.revocationReason ?? null,
      manifestCid: rec?.manifestCid ?? null,
      manifest: r.manifest
        ? {
            verified: true,
            name: r.manifest.name,
            version: r.manifest.version,
            createdAt: r.manifest.createdAt,
            license: r.manifest.metadata.license,
            trainingData: r.manifest.metadata.trainingData,
            watermarked: r.manifest.certificate !== null,
          }
        : null,
      signature,
      lineage,
      chainId: r.chainId,
      contract: r.contract,
      rpc: r.rpc,
    },
    flags,
    (o) => {
      const head = {
        registered: `REGISTERED  ${o.path}`,
        unregistered:
          o.expectedOwner === null
            ? `UNREGISTERED  ${o.path}: no registered version has these files${o.expectedModel === null ? "" : ` in model ${o.expectedModel}`}`
            : `UNREGISTERED  ${o.path}: ${o.expectedOwner} registered no version with these files${o.expectedModel === null ? "" : ` under model ${o.expectedModel}`}`,
        revoked: `REVOKED  ${o.path} (at ${o.revokedAt}: ${o.revocationReason})`,
      }[o.status];
      const lines = [head];
      if (o.owner !== null) {
        lines.push(
          o.ownerChecked ? `  owner: ${o.owner} (as expected), model ${o.modelId}` : `  WARNING: ${unchecked(o.owner)}`,
        );
      }
      lines.push(`  digest: ${o.digest}`, `  chain ${o.chainId} (${o.rpc}), registry ${o.contract ?? "(none yet)"}`);
      for (const x of o.alsoRegisteredBy) {
        lines.push(`  also registered by ${x.owner} (model ${x.modelId}, ${x.registeredAt}): not the same release`);
      }
      if (o.signature) {
        const match = o.signature.matchesManifest === true ? ", as the registered manifest records" : "";
        lines.push(`  signature: verified (${o.signature.method}), root digest ${o.signature.rootDigest}${match}`);
      }
      if (o.lineage.length) {
        lines.push("  lineage (newest first):");
        for (const v of o.lineage) {
          lines.push(
            `    ${v.digest}  ${v.registeredAt} by ${v.registrant}${v.revokedAt ? `  REVOKED ${v.revokedAt}` : ""}`,
          );
        }
      }
      return lines.join("\n");
    },
  );
  process.exitCode = { registered: ExitCode.ok, unregistered: ExitCode.unregistered, revoked: ExitCode.revoked }[
    r.status
  ];
}

async function verifySignatureFlags(dir: string, flags: SignatureFlags) {
  if (flags.signature === undefined && flags.publicKey === undefined && flags.certificateChain === undefined) {
    return undefined;
  }
  const { signatureTrust } = await import("./verify-signature.js");
  const trust = signatureTrust(flags);
  const { verifyModelSignature } = await import("../../signing/verify-model-signature.js");
  return verifyModelSignature(dir, {
    trust,
    ...(flags.signature === undefined ? {} : { signaturePath: flags.signature }),
  });
}
