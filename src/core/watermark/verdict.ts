export type Verdict = "watermarked" | "not-detected" | "inconclusive";

export interface Decision {
  verdict: Verdict;
  /** Bonferroni-combined p-value over the tests that ran: min(1, m · min p), as log10. */
  combinedLog10P: number;
  tests: number;
}

/** Where "inconclusive" begins: evidence that falls short of α but is unlikely under the null. */
export const INCONCLUSIVE_BELOW = 1e-2;

/**
 * Combines independent tests (trigger set, weight watermark) into one verdict. The Bonferroni bound
 * keeps the false-positive rate at most α whatever the tests' dependence: "watermarked" when
 * m · min p <= α; "inconclusive" when that is above α but at most 1e-2 (or no test could run);
 * otherwise "not-detected".
 */
export function decide(log10Ps: readonly number[], alpha: number, inconclusiveBelow = INCONCLUSIVE_BELOW): Decision {
  if (log10Ps.length === 0) return { verdict: "inconclusive", combinedLog10P: 0, tests: 0 };
  const combinedLog10P = Math.min(0, Math.log10(log10Ps.length) + Math.min(...log10Ps));
  const verdict: Verdict =
    combinedLog10P <= Math.log10(alpha)
      ? "watermarked"
      : combinedLog10P <= Math.log10(inconclusiveBelow)
        ? "inconclusive"
        : "not-detected";
  return { verdict, combinedLog10P, tests: log10Ps.length };
}

/**
 * Empirical p-value of an observed statistic against reference models (higher = more marked):
 * (1 + #{references at least as extreme}) / (1 + R), which is valid for any R >= 1.
 */
export function empiricalPValue(observed: number, references: readonly number[]): number {
  return (1 + references.filter((r) => r >= observed).length) / (1 + references.length);
}
