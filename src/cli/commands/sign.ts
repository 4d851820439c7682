import { signModel } from "../../signing/sign-model.js";
import { emit } from "../output.js";

export interface SignOptions {
  privateKey: string;
  signingCertificate?: string;
  certificateChain?: string[];
  signature?: string;
  ignorePaths?: string[];
  ignoreGitPaths?: boolean;
  force?: boolean;
  json?: boolean;
}

export async function sign(dir: string, opts: SignOptions): Promise<void> {
  const { getPassphrase } = await import("../../watermark/passphrase.js");
  const result = await signModel(dir, {
    privateKeyPath: opts.privateKey,
    ...(opts.signingCertificate === undefined ? {} : { signingCertificatePath: opts.signingCertificate }),
    ...(opts.certificateChain === undefined ? {} : { certificateChainPaths: opts.certificateChain }),
    ...(opts.signature === undefined ? {} : { signaturePath: opts.signature }),
    ignorePaths: opts.ignorePaths ?? [],
    ignoreGitPaths: opts.ignoreGitPaths ?? true,
    force: opts.force ?? false,
    passphrase: () => getPassphrase({ envVar: "PROVMARK_SIGNING_PASSPHRASE", label: "signing key" }),
  });
  emit(result, opts, (r) =>
    [
      `signed:       ${dir} (${r.files} files, ${r.method === "key" ? `key ${r.curve}` : `certificate, ${r.curve} key`})`,
      `signature:    ${r.signaturePath}`,
      `root digest:  ${r.rootDigest}`,
      `ignored:      ${r.ignorePaths.join(", ") || "(nothing)"}`,
    ].join("\n"),
  );
}
