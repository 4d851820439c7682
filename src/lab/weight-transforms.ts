import type { Rng } from "../core/rng.js";

/** How weights are rounded by a quantization attack. */
export type QuantizeMode =
  /** Symmetric linear quantization to 2^bits − 1 levels over [−max|w|, max|w|], per tensor. */
  | { kind: "linear"; bits: number }
  /** IEEE half precision (round to nearest even). */
  | { kind: "float16" }
  /** TF.js converter style: affine uint8/uint16 over [min, max] (widened to hold 0), per tensor. */
  | { kind: "affine"; bits: 8 | 16 };

export function quantizeLabel(m: QuantizeMode): string {
  if (m.kind === "float16") return "float16";
  return m.kind === "linear" ? `${m.bits}-bit linear` : `uint${m.bits} affine (TF.js)`;
}

/**
 * Quantizes then dequantizes a weight tensor's values, as a thief shrinking a stolen model would.
 * @example quantizeValues(Float32Array.of(0.5, -1), { kind: "linear", bits: 2 }) // [1, -1]
 */
export function quantizeValues(values: Float32Array, mode: QuantizeMode): Float32Array {
  const out = new Float32Array(values.length);
  if (mode.kind === "float16") {
    for (let i = 0; i < values.length; i++) out[i] = f16round(values[i] as number);
    return out;
  }
  let min = 0;
  let max = 0;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (mode.kind === "linear") {
    const levels = 2 ** (mode.bits - 1) - 1;
    const amax = Math.max(-min, max);
    if (amax === 0 || levels < 1) return out;
    const step = amax / levels;
    for (let i = 0; i < values.length; i++) out[i] = Math.round((values[i] as number) / step) * step;
    return out;
  }
  const scale = (max - min) / (2 ** mode.bits - 1);
  if (scale === 0) return out;
  // Like TF.js's converter: nudge min so that 0 is exactly representable.
  const zero = Math.round(-min / scale);
  const lo = -zero * scale;
  const top = 2 ** mode.bits - 1;
  for (let i = 0; i < values.length; i++) {
    const q = Math.min(top, Math.max(0, Math.round(((values[i] as number) - lo) / scale)));
    out[i] = q * scale + lo;
  }
  return out;
}

/** Rounds a number to the nearest IEEE 754 half-precision value (ties to even), as a double. */
export function f16round(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  e = Math.max(e, -14); // subnormals share the smallest exponent
  const ulp = 2 ** (e - 10);
  const q = a / ulp;
  let r = Math.floor(q);
  const frac = q - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
  const v = r * ulp;
  return v > 65504 ? sign * Number.POSITIVE_INFINITY : sign * v;
}

/**
 * Masks keeping all but the `fraction` smallest-magnitude values: over all tensors together
 * (`global`) or within each tensor (`layer`). 1 = kept, 0 = pruned.
 */
export function pruneMasks(
  tensors: readonly Float32Array[],
  fraction: number,
  scope: "global" | "layer",
): Uint8Array[] {
  const threshold = (abs: Float32Array) => {
    const k = Math.floor(fraction * abs.length);
    if (k <= 0) return -1;
    const sorted = Float32Array.from(abs).sort();
    return sorted[k - 1] as number;
  };
  const absOf = (t: Float32Array) => t.map(Math.abs);
  if (scope === "global") {
    const all = new Float32Array(tensors.reduce((a, t) => a + t.length, 0));
    let off = 0;
    for (const t of tensors) {
      all.set(absOf(t), off);
      off += t.length;
    }
    const th = threshold(all);
    return tensors.map((t) => Uint8Array.from(t, (v) => (Math.abs(v) <= th ? 0 : 1)));
  }
  return tensors.map((t) => {
    const th = threshold(absOf(t));
    return Uint8Array.from(t, (v) => (Math.abs(v) <= th ? 0 : 1));
  });
}

/** Adds N(0, (scale · std(values))²) noise to each value, from a seeded generator. */
export function addGaussianNoise(values: Float32Array, scale: number, rng: Rng): Float32Array {
  let mean = 0;
  for (const v of values) mean += v;
  mean /= Math.max(1, values.length);
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  const sigma = scale * Math.sqrt(sq / Math.max(1, values.length));
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = (values[i] as number) + sigma * gaussian(rng);
  return out;
}

/** A standard normal draw by Box-Muller (the first uniform kept away from 0). */
export function gaussian(rng: Rng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}
