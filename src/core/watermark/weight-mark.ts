import { canonicalJson } from "../canonical-json.js";
import { utf8 } from "../digest/bytes.js";
import { KeyStream } from "../keys/derive.js";
import { vrfKeyPair, vrfMessage, vrfOutput, vrfProve } from "../keys/vrf.js";
import type { WatermarkKey } from "./params.js";

/** What a v2 weight mark's secrets are bound to: the carrier and the message length. */
export interface WeightMarkSpec {
  layer: string;
  carrierLength: number;
  bits: number;
}

/** VRF messages of the projection (0) and the message bits (1). */
export function weightMarkMessages(spec: WeightMarkSpec): [projection: Uint8Array, message: Uint8Array] {
  const ctx = utf8(canonicalJson({ schema: "provmark/weight-mark/v2", ...spec }));
  return [vrfMessage("weight-mark/v2", ctx, 0), vrfMessage("weight-mark/v2", ctx, 1)];
}

/** v2: X with i.i.d. standard normal entries from a VRF output. */
export function projectionFromOutput(output: Uint8Array, bits: number, m: number): Float32Array {
  const s = new KeyStream(output, "provmark/weight-mark/v2/projection");
  const x = new Float32Array(bits * m);
  for (let i = 0; i < x.length; i++) x[i] = s.gaussian();
  return x;
}

/** v2: `bits` fair bits from a VRF output. */
export function messageFromOutput(output: Uint8Array, bits: number): Uint8Array {
  const s = new KeyStream(output, "provmark/weight-mark/v2/message");
  return Uint8Array.from({ length: bits }, () => s.u32() & 1);
}

export interface WeightSecrets {
  projection: Float32Array;
  message: Uint8Array;
  /** v2: the VRF proofs of projection and message (a reveal lets anyone recompute both). */
  proofs: { projection: Uint8Array; message: Uint8Array } | null;
}

/** The weight mark's secrets for a carrier of length m, by the key's derivation. */
export function weightSecrets(key: WatermarkKey, m: number): WeightSecrets {
  const { bits, layer, derivation } = key.params;
  if (derivation === "hkdf/v1") {
    return { projection: deriveProjection(key.seed, bits, m), message: deriveMessage(key.seed, bits), proofs: null };
  }
  const { secretKey } = vrfKeyPair(key.seed);
  const [mx, mb] = weightMarkMessages({ layer, carrierLength: m, bits });
  const px = vrfProve(secretKey, mx);
  const pb = vrfProve(secretKey, mb);
  return {
    projection: projectionFromOutput(vrfOutput(px), bits, m),
    message: messageFromOutput(vrfOutput(pb), bits),
    proofs: { projection: px, message: pb },
  };
}

/**
 * v1: the secret projection X (bits × m, row-major) of the weight watermark: i.i.d. standard normal
 * entries from the key stream "weight/projection". Given weights w not trained with X, each x_j·w is
 * an independent symmetric variable, so the extracted bits match the message like fair coins.
 */
export function deriveProjection(seed: Uint8Array, bits: number, m: number): Float32Array {
  const s = new KeyStream(seed, `weight/projection/${m}`);
  const x = new Float32Array(bits * m);
  for (let i = 0; i < x.length; i++) x[i] = s.gaussian();
  return x;
}

/** v1: the secret message b: `bits` fair bits (0/1) from the key stream "weight/message". */
export function deriveMessage(seed: Uint8Array, bits: number): Uint8Array {
  const s = new KeyStream(seed, "weight/message");
  const b = new Uint8Array(bits);
  for (let i = 0; i < bits; i++) b[i] = s.u32() & 1;
  return b;
}

/**
 * The carrier vector of a kernel: the mean over its last (output) axis, as in Uchida et al. 2017,
 * so a conv kernel [h, w, in, out] gives h·w·in values and a dense kernel [in, out] gives `in` values.
 */
export function carrierOf(kernel: Float32Array, shape: readonly number[]): Float32Array {
  const out = shape.at(-1) ?? 1;
  const m = kernel.length / out;
  const w = new Float32Array(m);
  for (let i = 0; i < m; i++) {
    let sum = 0;
    for (let o = 0; o < out; o++) sum += kernel[i * out + o] as number;
    w[i] = sum / out;
  }
  return w;
}

/** Extracted bits b̂_j = [x_j · w > 0]. */
export function extractBits(projection: Float32Array, carrier: Float32Array, bits: number): Uint8Array {
  const m = carrier.length;
  const b = new Uint8Array(bits);
  for (let j = 0; j < bits; j++) {
    let dot = 0;
    for (let i = 0; i < m; i++) dot += (projection[j * m + i] as number) * (carrier[i] as number);
    b[j] = dot > 0 ? 1 : 0;
  }
  return b;
}

export function countBitErrors(a: Uint8Array, b: Uint8Array): number {
  let e = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) e++;
  return e;
}
