import { ProvmarkError } from "../../errors.js";
import { normalQuantile, normalUpperTail } from "./normal.js";

/** The test's result: W in (0, 1] (1 = perfectly normal ordering) and Royston's p-value. */
export interface ShapiroWilkResult {
  w: number;
  p: number;
}

/** Royston's approximation holds for these sample sizes (AS R94; scipy.stats.shapiro warns above). */
export const SHAPIRO_WILK_MIN_N = 3;
export const SHAPIRO_WILK_MAX_N = 5000;

function poly(c: readonly number[], x: number): number {
  let v = 0;
  for (let i = c.length - 1; i >= 0; i--) v = v * x + (c[i] as number);
  return v;
}

// Royston (1995), AS R94: polynomial approximations of the coefficients and of W's distribution.
const C1 = [0, 0.221157, -0.147981, -2.07119, 4.434685, -2.706056];
const C2 = [0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633];
const C3 = [0.544, -0.39978, 0.025054, -6.714e-4];
const C4 = [1.3822, -0.77857, 0.062767, -0.0020322];
const C5 = [-1.5861, -0.31082, -0.083751, 0.0038915];
const C6 = [-0.4803, -0.082676, 0.0030302];
const G = [-2.273, 0.459];

/**
 * A few recent coefficient vectors: PRADA tests samples of nearly one size over and over once its
 * distance window is full (the size moves only with the outliers it drops).
 */
const cache = new Map<number, Float64Array>();
const CACHE_SIZE = 8;

/** The upper half of the antisymmetric coefficient vector: a[i] weighs x(n−1−i) − x(i). */
function coefficients(n: number): Float64Array {
  const hit = cache.get(n);
  if (hit !== undefined) {
    cache.delete(n);
    cache.set(n, hit);
    return hit;
  }
  const half = Math.floor(n / 2);
  const a = new Float64Array(half);
  if (n === 3) {
    a[0] = Math.SQRT1_2;
  } else {
    const m = new Float64Array(half);
    let summ2 = 0;
    for (let i = 0; i < half; i++) {
      const mi = normalQuantile((i + 1 - 0.375) / (n + 0.25));
      m[i] = mi;
      summ2 += mi * mi;
    }
    summ2 *= 2;
    const ssumm2 = Math.sqrt(summ2);
    const rsn = 1 / Math.sqrt(n);
    const m0 = m[0] as number;
    const a1 = poly(C1, rsn) - m0 / ssumm2;
    let first: number;
    let fac: number;
    if (n > 5) {
      const m1 = m[1] as number;
      const a2 = -m1 / ssumm2 + poly(C2, rsn);
      fac = Math.sqrt((summ2 - 2 * m0 * m0 - 2 * m1 * m1) / (1 - 2 * a1 * a1 - 2 * a2 * a2));
      a[1] = a2;
      first = 2;
    } else {
      fac = Math.sqrt((summ2 - 2 * m0 * m0) / (1 - 2 * a1 * a1));
      first = 1;
    }
    a[0] = a1;
    for (let i = first; i < half; i++) a[i] = -(m[i] as number) / fac;
  }
  cache.set(n, a);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as number);
  return a;
}

/**
 * The Shapiro-Wilk test of normality, by Royston's algorithm AS R94 (as R's `shapiro.test` and
 * `scipy.stats.shapiro` compute it), for 3 ≤ n ≤ 5000 finite values that are not all equal.
 * W is computed as 1 − (1 − W) from the squared correlation of the sorted sample with the
 * coefficients, which keeps its digits when W is close to 1 (large samples).
 *
 * @example shapiroWilk([2.1, 3.4, 1.9, 5.6, 4.4, 3.0]) // { w: 0.96…, p: 0.8… }
 */
export function shapiroWilk(x: ArrayLike<number>): ShapiroWilkResult {
  const n = x.length;
  if (n < SHAPIRO_WILK_MIN_N || n > SHAPIRO_WILK_MAX_N) {
    throw new ProvmarkError(
      "USAGE",
      `the Shapiro-Wilk test needs ${SHAPIRO_WILK_MIN_N} to ${SHAPIRO_WILK_MAX_N} values, got ${n}`,
    );
  }
  const s = Float64Array.from(x);
  for (const v of s) {
    if (!Number.isFinite(v)) throw new ProvmarkError("USAGE", "the Shapiro-Wilk test needs finite values");
  }
  s.sort();
  const range = (s[n - 1] as number) - (s[0] as number);
  if (!(range > 0)) throw new ProvmarkError("USAGE", "the Shapiro-Wilk test needs values that are not all equal");
  const a = coefficients(n);
  // Scaling by the range and centring keep the sums well conditioned; the coefficients sum to 0.
  let mean = 0;
  for (let i = 0; i < n; i++) mean += (s[i] as number) / range;
  mean /= n;
  let ssa = 0;
  let ssx = 0;
  let sax = 0;
  for (let i = 0; i < n; i++) {
    const j = n - 1 - i;
    const ai = i === j ? 0 : i < j ? -(a[i] as number) : (a[j] as number);
    const xi = (s[i] as number) / range - mean;
    ssa += ai * ai;
    ssx += xi * xi;
    sax += ai * xi;
  }
  const ssassx = Math.sqrt(ssa * ssx);
  const w1 = ((ssassx - sax) * (ssassx + sax)) / (ssa * ssx);
  const w = 1 - w1;
  return { w, p: pValue(n, w, w1) };
}

function pValue(n: number, w: number, w1: number): number {
  if (n === 3) {
    // Exact for n = 3: W ≥ 3/4, and P(W ≤ w) = 6/π · (asin √w − π/3).
    const p = (6 / Math.PI) * (Math.asin(Math.sqrt(Math.min(1, w))) - Math.PI / 3);
    return Math.max(0, Math.min(1, p));
  }
  let y = Math.log(w1);
  let m: number;
  let sd: number;
  if (n <= 11) {
    const gamma = poly(G, n);
    if (y >= gamma) return 1e-99; // AS R94: W below the approximation's support, "obviously" non-normal.
    y = -Math.log(gamma - y);
    m = poly(C3, n);
    sd = Math.exp(poly(C4, n));
  } else {
    const ln = Math.log(n);
    m = poly(C5, ln);
    sd = Math.exp(poly(C6, ln));
  }
  return normalUpperTail((y - m) / sd);
}
