import { KeyStream } from "../keys/derive.js";

/**
 * The secret projection X (bits × m, row-major) of the weight watermark: i.i.d. standard normal
 * entries from the key stream "weight/projection". Given weights w not trained with X, each x_j·w is
 * an independent symmetric variable, so the extracted bits match the message like fair coins.
 */
export function deriveProjection(seed: Uint8Array, bits: number, m: number): Float32Array {
  const s = new KeyStream(seed, `weight/projection/${m}`);
  const x = new Float32Array(bits * m);
  for (let i = 0; i < x.length; i++) x[i] = s.gaussian();
  return x;
}

/** The secret message b: `bits` fair bits (0/1) from the key stream "weight/message". */
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
