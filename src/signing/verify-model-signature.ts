import { type KeyObject, verify } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  diffManifest,
  isEmptyDiff,
  PAYLOAD_TYPE,
  pae,
  parseBundle,
  parseSignedStatement,
  type SignatureBundle,
  type SignedManifest,
} from "../core/model-signing/index.js";
import { fromFsError, ProvmarkError } from "../errors.js";
import { CURVE_NAMES, ecHash, keyHint, loadPublicKey, readPem } from "./ec-keys.js";
import { hashSignedFiles } from "./hash-signed-files.js";
import { resolveIgnorePaths } from "./resolve-ignore-paths.js";
import { parsePemCertificates, verifyCertificateChain } from "./verify-chain.js";

export type SignatureTrust = { publicKeyPath: string } | { certificateChainPaths: readonly string[] };

export interface VerifyModelSignatureOptions {
  trust: SignatureTrust;
  /** Default: `<dir>/model.sig`. */
  signaturePath?: string;
  ignorePaths?: readonly string[];
  ignoreGitPaths?: boolean;
}

export interface VerifiedModelSignature {
  signaturePath: string;
  method: "key" | "certificate";
  curve: string;
  /** Subjects from the signing certificate to the root (certificate method). */
  certificatePath?: string[];
  /** The statement's subject: the model-signing root digest. */
  rootDigest: string;
  modelName: string;
  files: number;
  ignorePaths: string[];
}

/**
 * Verifies a model against a model-signing v1.x signature, as `model_signing verify key|certificate`
 * does: the DSSE signature over the statement with the given key (or the bundle's certificate,
 * chained to a given root), the statement itself, then the model's files against the signed list —
 * nothing changed, added, removed or renamed outside the ignore paths. Failures are coded errors.
 */
export async function verifyModelSignature(
  modelPath: string,
  options: VerifyModelSignatureOptions,
): Promise<VerifiedModelSignature> {
  const signaturePath = options.signaturePath ?? join(modelPath, "model.sig");
  const bundle = await readBundle(signaturePath);
  const { key, certificatePath } = await signerKey(bundle, options.trust);
  const payload = new Uint8Array(Buffer.from(bundle.dsseEnvelope.payload, "base64"));
  const sig = Buffer.from(bundle.dsseEnvelope.signatures[0]?.sig ?? "", "base64");
  // PAE over the reference's fixed in-toto type: a payloadType swapped in the envelope cannot verify
  const ok = verify(ecHash(key, "the signer's key"), pae(PAYLOAD_TYPE, payload), { key, dsaEncoding: "der" }, sig);
  if (!ok) {
    throw new ProvmarkError(
      "SIGNATURE_INVALID",
      `the signature in ${signaturePath} does not verify with the signer's key`,
      {
        subject: signaturePath,
        hints: ["The statement was altered after signing, or it was signed by another key than the one given."],
      },
    );
  }
  const signed = parseSignedStatement(bundle.dsseEnvelope.payloadType, payload);
  const ignorePaths = resolveIgnorePaths(modelPath, options.ignorePaths ?? [], {
    signaturePath,
    ignoreGitPaths: options.ignoreGitPaths ?? true,
  });
  const allIgnored = [...new Set([...ignorePaths, ...signed.ignorePaths])];
  await checkFiles(modelPath, signed, allIgnored);
  return {
    signaturePath,
    method: "publicKeyPath" in options.trust ? "key" : "certificate",
    curve: CURVE_NAMES[key.asymmetricKeyDetails?.namedCurve ?? ""] ?? "?",
    ...(certificatePath === undefined ? {} : { certificatePath }),
    rootDigest: signed.rootDigest,
    modelName: signed.modelName,
    files: signed.resources.length,
    ignorePaths: allIgnored,
  };
}

async function readBundle(path: string): Promise<SignatureBundle> {
  const text = await readFile(path, "utf8").catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      throw new ProvmarkError("SIGNATURE_FILE_MISSING", `${path} does not exist`, {
        subject: path,
        hints: ["Sign the model first (provmark sign), or point --signature at its model.sig."],
      });
    }
    throw fromFsError(e, path);
  });
  return parseBundle(text, path);
}

async function signerKey(
  bundle: SignatureBundle,
  trust: SignatureTrust,
): Promise<{ key: KeyObject; certificatePath?: string[] }> {
  const material = bundle.verificationMaterial;
  if ("publicKeyPath" in trust) {
    if (material.publicKey === undefined) {
      throw new ProvmarkError("SIGNATURE_BUNDLE_INVALID", "the signature was made with a certificate, not a bare key", {
        subject: "--public-key",
        hints: ["Verify it with --certificate-chain <root CA PEM>."],
      });
    }
    const key = await loadPublicKey(trust.publicKeyPath);
    const hint = material.publicKey.hint;
    // 1.0.x bundles have no hint; the signature check below is what decides
    if (hint && hint !== keyHint(key)) {
      throw new ProvmarkError(
        "SIGNATURE_INVALID",
        `the signature was made by another key than ${trust.publicKeyPath}`,
        {
          subject: trust.publicKeyPath,
          hints: [`model.sig names the key with SHA-256 ${hint} of its PEM; pass that public key.`],
        },
      );
    }
    return { key };
  }
  if (material.x509CertificateChain === undefined) {
    throw new ProvmarkError("SIGNATURE_BUNDLE_INVALID", "the signature was made with a bare key, not a certificate", {
      subject: "--certificate-chain",
      hints: ["Verify it with --public-key <signer's public key PEM>."],
    });
  }
  const trusted = [];
  for (const p of trust.certificateChainPaths)
    trusted.push(...parsePemCertificates(await readPem(p, "a certificate"), p));
  const chain = verifyCertificateChain(
    material.x509CertificateChain.certificates.map((c) => new Uint8Array(Buffer.from(c.rawBytes, "base64"))),
    trusted,
  );
  return { key: chain.key, certificatePath: chain.path };
}

async function checkFiles(modelPath: string, signed: SignedManifest, ignorePaths: string[]): Promise<void> {
  const actual = await hashSignedFiles(modelPath, { ignorePaths, allowSymlinks: signed.allowSymlinks });
  const diff = diffManifest(signed.resources, actual.resources);
  if (isEmptyDiff(diff)) return;
  const parts = [
    diff.changed.length ? `changed: ${diff.changed.map((c) => c.name).join(", ")}` : "",
    diff.extra.length ? `not signed: ${diff.extra.join(", ")}` : "",
    diff.missing.length ? `missing: ${diff.missing.join(", ")}` : "",
  ].filter(Boolean);
  throw new ProvmarkError("SIGNATURE_DIGEST_MISMATCH", `${modelPath} is not the signed model (${parts.join("; ")})`, {
    subject: modelPath,
    hints: [
      "Restore the signed files, or re-sign the model.",
      ...(diff.extra.length ? ["Files the signer left out can be skipped with --ignore-paths."] : []),
    ],
  });
}
