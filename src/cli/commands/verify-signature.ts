import { ProvmarkError } from "../../errors.js";
import type { SignatureTrust } from "../../signing/verify-model-signature.js";
import { emit } from "../output.js";

export interface VerifySignatureOptions {
  publicKey?: string;
  certificateChain?: string[];
  signature?: string;
  ignorePaths?: string[];
  ignoreGitPaths?: boolean;
  json?: boolean;
}

/** `--public-key` or `--certificate-chain`, exactly one: the two methods trust different things. */
export function signatureTrust(opts: { publicKey?: string; certificateChain?: string[] }): SignatureTrust {
  const chain = opts.certificateChain ?? [];
  if ((opts.publicKey === undefined) === (chain.length === 0)) {
    throw new ProvmarkError("USAGE", "pass exactly one of --public-key and --certificate-chain", {
      subject: "--public-key",
      hints: [
        "--public-key <pem>: the signer's ECDSA public key (model_signing's key method).",
        "--certificate-chain <pem>: the root CA the signing certificate chains to (its certificate method).",
      ],
    });
  }
  return opts.publicKey !== undefined ? { publicKeyPath: opts.publicKey } : { certificateChainPaths: chain };
}

export async function verifySignature(dir: string, opts: VerifySignatureOptions): Promise<void> {
  const trust = signatureTrust(opts);
  const { verifyModelSignature } = await import("../../signing/verify-model-signature.js");
  const result = await verifyModelSignature(dir, {
    trust,
    ...(opts.signature === undefined ? {} : { signaturePath: opts.signature }),
    ignorePaths: opts.ignorePaths ?? [],
    ignoreGitPaths: opts.ignoreGitPaths ?? true,
  });
  emit({ verified: true, ...result }, opts, (r) =>
    [
      `verified:     ${dir} (${r.files} files) against ${r.signaturePath}`,
      `signer:       ${r.certificatePath ? r.certificatePath.join(" <- ") : "the given public key"} (${r.curve})`,
      `root digest:  ${r.rootDigest}`,
      `ignored:      ${r.ignorePaths.join(", ") || "(nothing)"}`,
    ].join("\n"),
  );
}
