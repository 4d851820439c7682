import { z } from "zod";
import { canonicalJson } from "./canonical-json.js";
import { certificateSchema } from "./watermark/certificate.js";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, "64 lower-case hex digits");
const printable = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
    .regex(/^[^\u0000-\u001f\u007f]+$/, "no control characters");

export const RELEASE_MANIFEST_SCHEMA = "provmark/release-manifest/v1";

/** IPFS import settings, recorded so anyone can recompute every CID from the bytes. */
export const importSettingsSchema = z.object({
  name: z.string(),
  cidVersion: z.union([z.literal(0), z.literal(1)]),
  rawLeaves: z.boolean(),
  hash: z.literal("sha2-256"),
  chunkSize: z.number().int().positive(),
  maxChildrenPerNode: z.number().int().positive(),
});

/** What a release commits to. Its CID and the certificate hash go on chain; the files digest is the key. */
export const releaseManifestSchema = z.object({
  schema: z.literal(RELEASE_MANIFEST_SCHEMA),
  name: printable(200),
  version: printable(100),
  createdAt: z.iso.datetime(),
  tool: z.string(),
  model: z.object({
    format: z.string().nullable(),
    /** SHA-256 over the sorted `sha256sum` lines of every file (docs/digests.md); the on-chain digest. */
    filesDigest: hex64,
    /** Canonical weights digest, unchanged by resharding (null when the dir is not a TF.js model). */
    weightsDigest: hex64.nullable(),
    totalBytes: z.number().int().nonnegative(),
    files: z.array(z.object({ path: z.string(), size: z.number().int().nonnegative(), sha256: hex64 })),
    /**
     * OpenSSF model-signing root digest of the directory (its ignore defaults: git paths, model.sig),
     * what a model.sig's subject names (docs/signing.md). Absent in manifests from before it existed.
     */
    modelSigningDigest: hex64.optional(),
  }),
  /** Files digest of the version this one was derived from (fine-tune, quantization, …). */
  parent: hex64.nullable(),
  certificate: z.object({ hash: hex64, document: certificateSchema }).nullable(),
  metadata: z.object({
    license: z.string().nullable(),
    trainingData: z.array(z.string()),
    description: z.string().nullable(),
    extra: z.record(z.string(), z.unknown()),
  }),
  ipfs: z.object({
    /** Import settings of this manifest and of every artifact below. */
    importSettings: importSettingsSchema,
    /** The model's files in IPFS (empty unless uploaded); encrypted ones are AES-256-GCM envelopes. */
    artifacts: z.array(z.object({ path: z.string(), cid: z.string(), size: z.number().int(), encrypted: z.boolean() })),
  }),
});
export type ReleaseManifest = z.infer<typeof releaseManifestSchema>;

/** The exact bytes stored in IPFS: canonical JSON, so the same manifest always has the same CID. */
export function manifestBytes(m: ReleaseManifest): Uint8Array {
  return new TextEncoder().encode(canonicalJson(releaseManifestSchema.parse(m)));
}

/** Parses manifest bytes/text; returns zod's issues (path: message) on failure. */
export function parseManifest(
  input: string | Uint8Array,
): { ok: true; manifest: ReleaseManifest } | { ok: false; problems: string[] } {
  let value: unknown;
  try {
    value = JSON.parse(typeof input === "string" ? input : new TextDecoder().decode(input));
  } catch (e) {
    return { ok: false, problems: [`not JSON: ${(e as Error).message}`] };
  }
  const r = releaseManifestSchema.safeParse(value);
  if (r.success) return { ok: true, manifest: r.data };
  return { ok: false, problems: r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`) };
}
