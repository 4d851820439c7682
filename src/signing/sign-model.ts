import { createPublicKey, type KeyObject, sign } from "node:crypto";
import { join } from "node:path";
import {
  buildBundle,
  buildStatement,
  PAYLOAD_TYPE,
  pae,
  serializeStatement,
  type VerificationMaterial,
} from "../core/model-signing/index.js";
import { ProvmarkError } from "../errors.js";
import { assertOutputFree, writeFileAtomic } from "../model/atomic-write.js";
import { CURVE_NAMES, ecHash, keyHint, loadPrivateKey, readPem } from "./ec-keys.js";
import { hashSignedFiles } from "./hash-signed-files.js";
import { resolveIgnorePaths } from "./resolve-ignore-paths.js";
import { parsePemCertificates } from "./verify-chain.js";

export interface SignModelOptions {
  privateKeyPath: string;
  /** Certificate method: the signer's certificate (its key must be the private key's pair)… */
  signingCertificatePath?: string;
  /** …and the certificates up to the root, written after it in the bundle. */
  certificateChainPaths?: readonly string[];
  /** Default: `<dir>/model.sig`. */
  signaturePath?: string;
  ignorePaths?: readonly string[];
  ignoreGitPaths?: boolean;
  /** Replace an existing signature file. */
  force?: boolean;
  /** Asked only for an encrypted private key. */
  passphrase: () => Promise<string>;
}

export interface SignModelResult {
  signaturePath: string;
  method: "key" | "certificate";
  curve: string;
  modelName: string;
  rootDigest: string;
  files: number;
  ignorePaths: string[];
}

/**
 * Signs a model directory the way `model_signing sign key|certificate` does and writes the bundle
 * atomically; `model_signing verify` accepts the result (and provmark verifies theirs).
 */
export async function signModel(modelPath: string, options: SignModelOptions): Promise<SignModelResult> {
  const signaturePath = options.signaturePath ?? join(modelPath, "model.sig");
  await assertOutputFree(
    signaturePath,
    options.force ?? false,
    "Pass --force to replace the signature, or --signature <path>.",
  );
  const key = await loadPrivateKey(options.privateKeyPath, options.passphrase);
  const material = await verificationMaterial(key, options);
  const ignorePaths = resolveIgnorePaths(modelPath, options.ignorePaths ?? [], {
    signaturePath,
    ignoreGitPaths: options.ignoreGitPaths ?? true,
  });
  const hashed = await hashSignedFiles(modelPath, { ignorePaths, allowSymlinks: false });
  const statement = buildStatement(hashed.modelName, hashed.resources, {
    method: "files",
    hash_type: "sha256",
    allow_symlinks: false,
    ignore_paths: ignorePaths,
  });
  const payload = serializeStatement(statement);
  const signature = sign(ecHash(key, options.privateKeyPath), pae(PAYLOAD_TYPE, payload), { key, dsaEncoding: "der" });
  await writeFileAtomic(signaturePath, buildBundle(payload, new Uint8Array(signature), material));
  return {
    signaturePath,
    method: material.kind === "key" ? "key" : "certificate",
    curve: CURVE_NAMES[key.asymmetricKeyDetails?.namedCurve ?? ""] ?? "?",
    modelName: hashed.modelName,
    rootDigest: statement.subject[0].digest.sha256,
    files: hashed.resources.length,
    ignorePaths: statement.predicate.serialization.ignore_paths
      ? [...statement.predicate.serialization.ignore_paths]
      : [],
  };
}

async function verificationMaterial(key: KeyObject, options: SignModelOptions): Promise<VerificationMaterial> {
  const publicKey = createPublicKey(key);
  if (options.signingCertificatePath === undefined) {
    if (options.certificateChainPaths?.length) {
      throw new ProvmarkError("USAGE", "--certificate-chain needs --signing-certificate", {
        subject: "--certificate-chain",
        hints: ["Pass the signer's own certificate with --signing-certificate, the rest with --certificate-chain."],
      });
    }
    return { kind: "key", hint: keyHint(publicKey) };
  }
  const shown = options.signingCertificatePath;
  const [leaf, ...extra] = parsePemCertificates(await readPem(shown, "a certificate"), shown);
  if (leaf === undefined || extra.length > 0) {
    throw new ProvmarkError("USAGE", `${shown} must hold exactly one certificate (the signer's)`, {
      subject: "--signing-certificate",
      hints: ["Put the intermediates and root in --certificate-chain."],
    });
  }
  if (!leaf.publicKey.equals(publicKey)) {
    throw new ProvmarkError("SIGNATURE_KEY_INVALID", `${shown} is not the certificate of ${options.privateKeyPath}`, {
      subject: shown,
      hints: ["The certificate's public key must be the private key's pair."],
    });
  }
  const chain = [];
  for (const p of options.certificateChainPaths ?? [])
    chain.push(...parsePemCertificates(await readPem(p, "a certificate"), p));
  return { kind: "certificates", der: [leaf, ...chain].map((c) => new Uint8Array(c.raw)) };
}
