import { sha256 } from "@noble/hashes/sha2.js";
import { compareUtf8, concatBytes, lp, toHex, u32le, u64le, utf8 } from "./bytes.js";

/** What the digest binds of one weight besides its bytes. */
export interface WeightIdentity {
  readonly name: string;
  /** The dtype the weight has once loaded: float32, int32, bool, ... */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Storage quantization, when the stored bytes are not the loaded dtype's bytes. */
  readonly quantization?:
    | { readonly dtype: string; readonly scale?: number | undefined; readonly min?: number | undefined }
    | undefined;
}

const LEAF_DOMAIN = utf8("provmark/weight/v1\0");
const ROOT_DOMAIN = utf8("provmark/weights/v1\0");

/**
 * The header hashed before a weight's stored bytes. Stored bytes are hashed as they are
 * (little-endian, quantized if stored quantized) and the quantization parameters are bound here, so
 * the digest is fixed by the weights and their storage policy and not by sharding or manifest order.
 */
export function weightLeafHeader(w: WeightIdentity, byteLength: number): Uint8Array {
  const q = w.quantization;
  const quant = q === undefined ? "" : JSON.stringify({ dtype: q.dtype, min: q.min ?? null, scale: q.scale ?? null });
  const dims = w.shape.map((d) => u64le(d));
  return concatBytes(
    LEAF_DOMAIN,
    lp(w.name),
    lp(w.dtype),
    u32le(w.shape.length),
    ...dims,
    lp(quant),
    u64le(byteLength),
  );
}

/** Leaf digest of one weight held in memory (the streaming adapter computes the same with node:crypto). */
export function weightLeafDigest(w: WeightIdentity, bytes: Uint8Array): Uint8Array {
  return sha256.create().update(weightLeafHeader(w, bytes.length)).update(bytes).digest();
}

export interface WeightLeaf {
  readonly name: string;
  readonly digest: Uint8Array;
}

/**
 * Weights digest: SHA-256 over the leaf digests sorted by weight name (byte order). Names must be
 * unique; callers report duplicates as MODEL_WEIGHT_DUPLICATE before calling.
 */
export function weightsRoot(leaves: readonly WeightLeaf[]): string {
  const sorted = [...leaves].sort((a, b) => compareUtf8(a.name, b.name));
  const h = sha256.create().update(ROOT_DOMAIN).update(u32le(sorted.length));
  for (const l of sorted) h.update(l.digest);
  return toHex(h.digest());
}
