/**
 * Exact one-sided binomial and Poisson-binomial tail probabilities, computed in log space so that
 * p-values far below the smallest double (~1e-308) are still reported accurately as logarithms.
 */

/** A p-value for reports: `pValue` may underflow to 0, `log10PValue` stays finite unless the probability is 0. */
export interface PValue {
  pValue: number;
  log10PValue: number;
}

/** Largest n accepted by the ln-factorial table (two Float64Arrays, so ~160 MB at the limit). */
const MAX_N = 10_000_000;

// ln(i!) is kept as an unevaluated sum hi + lo (Neumaier-compensated), so that the cancellation in
// ln C(n, k) = ln n! - ln k! - ln (n-k)! loses only an ulp of the result, not an ulp of ln n!.
let lfHi = new Float64Array([0]);
let lfLo = new Float64Array([0]);

function ensureTable(n: number): void {
  const len = lfHi.length;
  if (n < len) return;
  // Doubling keeps the amortised cost linear when callers grow n gradually.
  const size = Math.min(MAX_N + 1, Math.max(n + 1, 2 * len));
  const hi = new Float64Array(size);
  const lo = new Float64Array(size);
  hi.set(lfHi);
  lo.set(lfLo);
  let s = at(hi, len - 1);
  let c = at(lo, len - 1);
  for (let i = len; i < size; i++) {
    const x = Math.log(i);
    const t = s + x;
    c += Math.abs(s) >= Math.abs(x) ? s - t + x : x - t + s;
    s = t;
    hi[i] = s;
    lo[i] = c;
  }
  lfHi = hi;
  lfLo = lo;
}

function at(a: Float64Array, i: number): number {
  const v = a[i];
  if (v === undefined) throw new Error(`internal: ln-factorial table has no entry ${i}`);
  return v;
}

function checkCount(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0 || v > MAX_N) {
    throw new RangeError(`${name} must be an integer in [0, ${MAX_N}], got ${v}`);
  }
}

function checkK(k: number): void {
  if (!Number.isInteger(k)) throw new RangeError(`k must be an integer, got ${k}`);
}

function checkProb(name: string, p: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${name} must be a probability in [0, 1], got ${p}`);
}

/**
 * ln C(n, k); -Infinity when k < 0 or k > n.
 * @example logChoose(5, 2) // Math.log(10)
 */
export function logChoose(n: number, k: number): number {
  checkCount("n", n);
  checkK(k);
  if (k < 0 || k > n) return Number.NEGATIVE_INFINITY;
  ensureTable(n);
  const hi = at(lfHi, n) - at(lfHi, k) - at(lfHi, n - k);
  return hi + (at(lfLo, n) - at(lfLo, k) - at(lfLo, n - k));
}

/**
 * ln P[Bin(n, p) >= k], exact up to floating-point rounding. k <= 0 gives 0, k > n gives -Infinity.
 * @example Math.exp(logBinomialTail(2, 1, 0.5)) // 0.75
 */
export function logBinomialTail(n: number, k: number, p: number): number {
  checkCount("n", n);
  checkK(k);
  checkProb("p", p);
  if (k <= 0) return 0;
  if (k > n) return Number.NEGATIVE_INFINITY;
  if (p === 0) return Number.NEGATIVE_INFINITY;
  if (p === 1) return 0;
  const lp = Math.log(p);
  // log1p keeps ln(1 - p) accurate for small p, where 1 - p would round away most of p.
  const lq = Math.log1p(-p);
  const logTerm = (j: number): number => logChoose(n, j) + j * lp + (n - j) * lq;
  // Scale by the largest term (the mode, or k if the mode lies below k) so no exp under- or overflows;
  // terms fall off monotonically on both sides, so once a term is below e^cutoff (with n of them
  // at most) the rest cannot change the sum at double precision.
  const jMax = Math.min(n, Math.max(k, Math.floor((n + 1) * p)));
  const m = logTerm(jMax);
  const cutoff = -45 - Math.log(n + 1);
  let s = 0;
  for (let j = jMax; j <= n; j++) {
    const t = logTerm(j) - m;
    if (t < cutoff) break;
    s += Math.exp(t);
  }
  for (let j = jMax - 1; j >= k; j--) {
    const t = logTerm(j) - m;
    if (t < cutoff) break;
    s += Math.exp(t);
  }
  // Rounding may push a probability of ~1 a hair above it.
  return Math.min(0, m + Math.log(s));
}

/** ln(e^a + e^b) without overflow, exact for -Infinity operands. */
function logAddExp(a: number, b: number): number {
  const m = Math.max(a, b);
  if (m === Number.NEGATIVE_INFINITY) return m;
  return m + Math.log1p(Math.exp(-Math.abs(a - b)));
}

/**
 * ln P[S >= k] where S is a sum of independent Bernoulli(ps[i]); O(n * k) time.
 * @example Math.exp(logPoissonBinomialTail([0.5, 0.1], 1)) // 0.55
 */
export function logPoissonBinomialTail(ps: readonly number[], k: number): number {
  checkK(k);
  ps.forEach((p, i) => {
    checkProb(`ps[${i}]`, p);
  });
  if (k <= 0) return 0;
  if (k > ps.length) return Number.NEGATIVE_INFINITY;
  // dp[s] = ln P[S_i = s] for s < k; dp[k] absorbs every count >= k, so only k + 1 states are needed.
  const dp = new Float64Array(k + 1).fill(Number.NEGATIVE_INFINITY);
  dp[0] = 0;
  for (const p of ps) {
    const lp = Math.log(p);
    const lq = Math.log1p(-p);
    dp[k] = logAddExp(at(dp, k), at(dp, k - 1) + lp);
    // Descending so dp[s - 1] still holds the previous trial's value when it is read.
    for (let s = k - 1; s >= 1; s--) dp[s] = logAddExp(at(dp, s) + lq, at(dp, s - 1) + lp);
    dp[0] = at(dp, 0) + lq;
  }
  return Math.min(0, at(dp, k));
}

/**
 * Turns a natural-log probability into report values; log10 survives where exp underflows.
 * @example pValueFromLog(-1000 * Math.LN10) // { pValue: 0, log10PValue: ≈ -1000 }
 */
export function pValueFromLog(lnP: number): PValue {
  if (Number.isNaN(lnP) || lnP > 0) throw new RangeError(`lnP must be a log-probability <= 0, got ${lnP}`);
  return { pValue: Math.exp(lnP), log10PValue: lnP / Math.LN10 };
}
