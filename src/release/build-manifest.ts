import { existsSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { parseDigest } from "../core/digest/hex-digest.js";
import { GIT_IGNORE_PATHS, isIgnored, rootDigest } from "../core/model-signing/index.js";
import { RELEASE_MANIFEST_SCHEMA, type ReleaseManifest } from "../core/release-manifest.js";
import { type Certificate, certificateHash } from "../core/watermark/certificate.js";
import { ProvmarkError } from "../errors.js";
import { type HashResult, hashModel } from "../model/hash-model.js";
import { DEFAULT_IMPORT_PROFILE, IMPORT_PROFILES } from "../store/profiles.js";
import { VERSION } from "../version.js";
import { CERTIFICATE_FILE } from "../watermark/embed-defaults.js";
import { readCertificate } from "../watermark/read-json.js";

export interface ManifestInput {
  model: string;
  /** Certificate file; default: the model dir's watermark-certificate.json when present. */
  cert?: string | undefined;
  /** Parent version's files digest (hex, with or without 0x). */
  parent?: string | undefined;
  name?: string | undefined;
  version?: string | undefined;
  license?: string | undefined;
  trainingData?: readonly string[] | undefined;
  description?: string | undefined;
  extra?: Record<string, unknown> | undefined;
  now?: Date;
  onProgress?: (done: number, total: number) => void;
}

export interface BuiltManifest {
  manifest: ReleaseManifest;
  hash: HashResult;
  certificatePath: string | null;
}

/** Hashes the model, loads and checks its certificate, and assembles the release manifest (no IPFS yet). */
export async function buildManifest(input: ManifestInput): Promise<BuiltManifest> {
  const hash = await hashModel(input.model, input.onProgress ? { onProgress: input.onProgress } : {});
  const { certificate, path: certificatePath } = await loadCertificate(input.model, input.cert);
  if (certificate && hash.weightsDigest && certificate.model.weightsDigest !== hash.weightsDigest) {
    throw new ProvmarkError(
      "USAGE",
      `the certificate ${certificatePath} is for weights ${certificate.model.weightsDigest.slice(0, 16)}…, but ${input.model} has weights ${hash.weightsDigest.slice(0, 16)}…`,
      {
        subject: certificatePath ?? "--cert",
        hints: ["Pass the certificate written by `provmark embed` for this very model (--cert)."],
      },
    );
  }
  const parent = input.parent ? parseDigest(input.parent, "--parent") : null;
  if (parent === hash.filesDigest) {
    throw new ProvmarkError("USAGE", "--parent is the model's own digest", { subject: "--parent" });
  }
  const manifest: ReleaseManifest = {
    schema: RELEASE_MANIFEST_SCHEMA,
    name: input.name ?? basename(resolve(input.model)),
    version: input.version ?? hash.filesDigest.slice(0, 12),
    createdAt: (input.now ?? new Date()).toISOString(),
    tool: `provmark ${VERSION}`,
    model: {
      format: hash.format,
      filesDigest: hash.filesDigest,
      weightsDigest: hash.weightsDigest,
      totalBytes: hash.totalBytes,
      files: hash.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 })),
      ...modelSigningDigest(input.model, hash),
    },
    parent,
    certificate: certificate ? { hash: certificateHash(certificate), document: certificate } : null,
    metadata: {
      license: input.license ?? null,
      trainingData: [...(input.trainingData ?? [])],
      description: input.description ?? null,
      extra: input.extra ?? {},
    },
    ipfs: {
      importSettings: { ...IMPORT_PROFILES[DEFAULT_IMPORT_PROFILE] },
      artifacts: [],
    },
  };
  return { manifest, hash, certificatePath };
}

async function loadCertificate(
  model: string,
  cert: string | undefined,
): Promise<{ certificate: Certificate | null; path: string | null }> {
  if (cert !== undefined) return { certificate: await readCertificate(cert), path: cert };
  const path = join(model, CERTIFICATE_FILE);
  if (!existsSync(path)) return { certificate: null, path: null };
  return { certificate: await readCertificate(path), path };
}

/**
 * The model-signing root digest from the files already hashed (no second pass), with model_signing's
 * default ignores; only for a directory, since a weights-manifest path names no one signable tree.
 */
function modelSigningDigest(model: string, hash: HashResult): { modelSigningDigest?: string } {
  if (!statSync(model).isDirectory()) return {};
  const ignored = [...GIT_IGNORE_PATHS, "model.sig"];
  const files = hash.files.filter((f) => !isIgnored(f.path, ignored));
  return { modelSigningDigest: rootDigest(files.map((f) => ({ name: f.path, sha256: f.sha256 }))) };
}
