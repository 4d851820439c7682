import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { logBinomialTail, logChoose, logPoissonBinomialTail, pValueFromLog } from "../../../src/core/stats/binomial.js";

// Reference values computed exactly in Python 3 with fractions.Fraction and math.comb:
//   tail(n, k, p) = sum(comb(n, j) * p**j * (1 - p)**(n - j) for j in range(k, n + 1)), p an exact rational,
// then float(tail) (correctly rounded) for the probabilities, and for log10 of the tiny tails
//   Decimal(num).log10() - Decimal(den).log10() at 60 significant digits.
// Using the double nearest to p instead of the rational shifts these by < 6e-14 relative.
/** P[Bin(100, 1/10) >= 28] */
const BIN_100_28 = 3.481426687624851e-7;
/** P[Bin(256, 1/2) >= 200] */
const BIN_256_200 = 1.8253945726410124e-20;
/** P[Bin(100, 1/100) >= 1] = 1 - (99/100)^100 */
const BIN_100_1 = 0.6339676587267705;
/** log10 P[Bin(2000, 1/2) >= 1900] */
const LOG10_BIN_2000_1900 = -430.996702074228;
/** log10 P[S >= 400] for S = sum of 400 Bernoullis alternating p = 1/10, 2/10 (= log10(0.02^200)). */
const LOG10_PB_400 = -339.79400086720375;
/** Same Poisson-binomial, P[S >= 390] (exact dynamic programming over Fractions). */
const LOG10_PB_390 = -312.2588311518629;

const relErr = (actual: number, expected: number): number => Math.abs(actual / expected - 1);
const log10Tail = (n: number, k: number, p: number): number => pValueFromLog(logBinomialTail(n, k, p)).log10PValue;

describe("logChoose", () => {
  it("matches small exact binomial coefficients", () => {
    expect(Math.exp(logChoose(5, 2))).toBeCloseTo(10, 12);
    expect(logChoose(7, 0)).toBe(0);
    expect(logChoose(7, 7)).toBe(0);
    // Python: Decimal(comb(1000, 500)).log10() at 40 digits.
    expect(Math.abs(logChoose(1000, 500) / Math.LN10 - 299.43182715186373)).toBeLessThanOrEqual(1e-11);
    // Python: ln comb(10**6, 5 * 10**5) via Decimal on its top 200 bits plus the exact power of two.
    expect(Math.abs(logChoose(1_000_000, 500_000) - 693140.0470130637)).toBeLessThanOrEqual(1e-8);
    expect(logChoose(4, 5)).toBe(Number.NEGATIVE_INFINITY);
    expect(logChoose(4, -1)).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe("logBinomialTail", () => {
  it("matches exact references to 1e-12 relative error", () => {
    expect(relErr(Math.exp(logBinomialTail(100, 28, 0.1)), BIN_100_28)).toBeLessThanOrEqual(1e-12);
    expect(relErr(Math.exp(logBinomialTail(256, 200, 0.5)), BIN_256_200)).toBeLessThanOrEqual(1e-12);
  });

  it("is accurate near probability 1: P[Bin(100, 0.01) >= 1] = 1 - 0.99^100", () => {
    expect(relErr(Math.exp(logBinomialTail(100, 1, 0.01)), BIN_100_1)).toBeLessThanOrEqual(1e-12);
  });

  it("reports tails far below 1e-300 through log10", () => {
    const r = pValueFromLog(logBinomialTail(1000, 1000, 0.1));
    expect(r.pValue).toBe(0);
    expect(Math.abs(r.log10PValue - -1000)).toBeLessThanOrEqual(1e-9);
    expect(Math.abs(log10Tail(2000, 1900, 0.5) - LOG10_BIN_2000_1900)).toBeLessThanOrEqual(1e-9);
  });

  it("handles k <= 0, k > n, p = 0 and p = 1 exactly", () => {
    expect(logBinomialTail(10, 0, 0.3)).toBe(0);
    expect(logBinomialTail(10, -5, 0.3)).toBe(0);
    expect(logBinomialTail(0, 0, 0.3)).toBe(0);
    expect(logBinomialTail(10, 11, 0.3)).toBe(Number.NEGATIVE_INFINITY);
    expect(logBinomialTail(10, 1, 0)).toBe(Number.NEGATIVE_INFINITY);
    expect(logBinomialTail(10, 0, 0)).toBe(0);
    expect(logBinomialTail(10, 10, 1)).toBe(0);
    expect(logBinomialTail(10, 11, 1)).toBe(Number.NEGATIVE_INFINITY);
    expect(pValueFromLog(logBinomialTail(10, 11, 0.5))).toEqual({ pValue: 0, log10PValue: Number.NEGATIVE_INFINITY });
  });

  it("equals the single term p^n at k = n and 1 - (1-p)^n at k = 1", () => {
    expect(relErr(Math.exp(logBinomialTail(7, 7, 0.3)), 0.3 ** 7)).toBeLessThanOrEqual(1e-13);
    expect(relErr(Math.exp(logBinomialTail(3, 1, 0.5)), 0.875)).toBeLessThanOrEqual(1e-14);
  });

  it("is non-increasing in k", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: -2, max: 202 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (n, k, p) => {
          // 1e-12 absorbs rounding of ln P near 0 (probabilities within ~1e-16 of 1)
          expect(logBinomialTail(n, k + 1, p)).toBeLessThanOrEqual(logBinomialTail(n, k, p) + 1e-12);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("throws RangeError on invalid arguments", () => {
    expect(() => logBinomialTail(-1, 0, 0.5)).toThrow(RangeError);
    expect(() => logBinomialTail(2.5, 1, 0.5)).toThrow(RangeError);
    expect(() => logBinomialTail(10, 1.5, 0.5)).toThrow(RangeError);
    expect(() => logBinomialTail(10, Number.NaN, 0.5)).toThrow(RangeError);
    expect(() => logBinomialTail(10, 1, -0.1)).toThrow(RangeError);
    expect(() => logBinomialTail(10, 1, 1.1)).toThrow(RangeError);
    expect(() => logBinomialTail(10, 1, Number.NaN)).toThrow(/p must be a probability/);
    expect(() => logChoose(Number.POSITIVE_INFINITY, 1)).toThrow(RangeError);
    expect(() => pValueFromLog(Number.NaN)).toThrow(RangeError);
    expect(() => pValueFromLog(0.5)).toThrow(RangeError);
  });
});

describe("logPoissonBinomialTail", () => {
  it("matches a hand-checkable mixed case", () => {
    // P[S >= 1] = 1 - 0.5 * 0.9, P[S >= 2] = 0.5 * 0.1
    expect(relErr(Math.exp(logPoissonBinomialTail([0.5, 0.1], 1)), 0.55)).toBeLessThanOrEqual(1e-14);
    expect(relErr(Math.exp(logPoissonBinomialTail([0.5, 0.1], 2)), 0.05)).toBeLessThanOrEqual(1e-14);
    // Exact Fractions for ps = [1/2, 1/10, 9/10, 1/4, 3/4]: P[S >= 2] = 281/320, >= 4: 39/320, >= 5: 27/3200.
    const ps = [0.5, 0.1, 0.9, 0.25, 0.75];
    expect(relErr(Math.exp(logPoissonBinomialTail(ps, 2)), 281 / 320)).toBeLessThanOrEqual(1e-14);
    expect(relErr(Math.exp(logPoissonBinomialTail(ps, 4)), 39 / 320)).toBeLessThanOrEqual(1e-14);
    expect(relErr(Math.exp(logPoissonBinomialTail(ps, 5)), 27 / 3200)).toBeLessThanOrEqual(1e-14);
  });

  it("reports tails far below 1e-300 through log10", () => {
    const ps = Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? 0.1 : 0.2));
    const log10 = (k: number): number => pValueFromLog(logPoissonBinomialTail(ps, k)).log10PValue;
    expect(Math.abs(log10(400) - LOG10_PB_400)).toBeLessThanOrEqual(1e-9);
    expect(Math.abs(log10(390) - LOG10_PB_390)).toBeLessThanOrEqual(1e-9);
  });

  it("handles edges: k <= 0, k > n, certain and impossible trials", () => {
    expect(logPoissonBinomialTail([], 0)).toBe(0);
    expect(logPoissonBinomialTail([0.3], -1)).toBe(0);
    expect(logPoissonBinomialTail([0.3, 0.4], 3)).toBe(Number.NEGATIVE_INFINITY);
    expect(logPoissonBinomialTail([1, 1, 0], 2)).toBe(0);
    expect(logPoissonBinomialTail([1, 1, 0], 3)).toBe(Number.NEGATIVE_INFINITY);
    expect(relErr(Math.exp(logPoissonBinomialTail([1, 0, 0.25], 2)), 0.25)).toBeLessThanOrEqual(1e-15);
  });

  it("equals logBinomialTail when all p_i are equal", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: -2, max: 62 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (n, k, p) => {
          const pb = logPoissonBinomialTail(new Array<number>(n).fill(p), k);
          const bin = logBinomialTail(n, k, p);
          if (!Number.isFinite(bin)) {
            expect(pb).toBe(bin);
          } else {
            // Absolute error in ln P is relative error in P; scale with |ln P| for astronomically small p.
            expect(Math.abs(pb - bin)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(bin)));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("is non-increasing in k", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }), fc.nat(41), (ps, k) => {
        // 1e-12 absorbs rounding of ln P near 0 (seen: 2.3e-16 with several p_i within 1e-12 of 1)
        expect(logPoissonBinomialTail(ps, k + 1)).toBeLessThanOrEqual(logPoissonBinomialTail(ps, k) + 1e-12);
      }),
      { numRuns: 300 },
    );
  });

  it("throws RangeError on invalid arguments", () => {
    expect(() => logPoissonBinomialTail([0.5, 1.5], 1)).toThrow(/ps\[1\]/);
    expect(() => logPoissonBinomialTail([Number.NaN], 1)).toThrow(RangeError);
    expect(() => logPoissonBinomialTail([-0.1], 0)).toThrow(RangeError);
    expect(() => logPoissonBinomialTail([0.5], 0.5)).toThrow(RangeError);
  });
});
