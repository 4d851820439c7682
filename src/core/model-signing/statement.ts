import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { comparePosixPaths } from "./path-order.js";

/** In-toto statement type and model-signing predicate type of v1.x signatures. */
export const STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
export const PREDICATE_TYPE = "https://model_signing/signature/v1.0";
export const PAYLOAD_TYPE = "application/vnd.in-toto+json";

/** One hashed file: its path relative to the model (POSIX, "." for a one-file model) and SHA-256. */
export interface SignedResource {
  readonly name: string;
  readonly sha256: string;
}

/** The predicate's `serialization` section for the `files` method. */
export interface FilesSerialization {
  readonly method: "files";
  readonly hash_type: "sha256";
  readonly allow_symlinks: boolean;
  /** Recorded since model-signing 1.1; omitted (as the reference does) when empty. */
  readonly ignore_paths?: readonly string[];
}

export interface ModelStatement {
  _type: typeof STATEMENT_TYPE;
  subject: [{ name: string; digest: { sha256: string } }];
  predicateType: typeof PREDICATE_TYPE;
  predicate: {
    serialization: FilesSerialization;
    resources: { algorithm: "sha256"; digest: string; name: string }[];
  };
}

/** Resources in model-signing's order: by path components (Python `PurePosixPath` ordering). */
export function sortResources(resources: readonly SignedResource[]): SignedResource[] {
  return [...resources].sort((a, b) => comparePosixPaths(a.name, b.name));
}

/**
 * The model's root digest: SHA-256 over the raw per-file digests in sorted order, the subject
 * digest of a model-signing statement.
 *
 * @example rootDigest([{ name: "a", sha256: "00".repeat(32) }]) // sha256 of 32 zero bytes
 */
export function rootDigest(resources: readonly SignedResource[]): string {
  return digestOfDigests(sortResources(resources));
}

/** SHA-256 over the raw digests in the order given (a statement's subject digest is over its listed order). */
export function digestOfDigests(resources: readonly SignedResource[]): string {
  const h = sha256.create();
  for (const r of resources) h.update(hexToBytes(r.sha256));
  return bytesToHex(h.digest());
}

/**
 * The in-toto statement model-signing signs. Key order follows the reference's own source (and its
 * v1.0.x fixtures); the reference's predicate is a protobuf Struct whose key order varies between
 * runs, so verifiers (its own included) compare parsed JSON, never bytes.
 */
export function buildStatement(
  modelName: string,
  resources: readonly SignedResource[],
  serialization: FilesSerialization,
): ModelStatement {
  const sorted = sortResources(resources);
  const { ignore_paths, ...rest } = serialization;
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: modelName, digest: { sha256: rootDigest(sorted) } }],
    predicateType: PREDICATE_TYPE,
    predicate: {
      serialization: {
        method: rest.method,
        hash_type: rest.hash_type,
        allow_symlinks: rest.allow_symlinks,
        ...(ignore_paths !== undefined && ignore_paths.length > 0
          ? { ignore_paths: [...ignore_paths].sort(comparePosixPaths) }
          : {}),
      },
      resources: sorted.map((r) => ({ algorithm: "sha256", digest: r.sha256, name: r.name })),
    },
  };
}

/**
 * JSON text as protobuf's Python `MessageToJson` writes it (`json.dumps(indent=2, ensure_ascii=True)`):
 * two-space indent, `": "`, no final newline, every non-ASCII character as a lowercase `\uXXXX`.
 */
export function serializeStatement(value: unknown): Uint8Array {
  const text = JSON.stringify(value, null, 2).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return new TextEncoder().encode(text);
}
