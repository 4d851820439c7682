import { logPoissonBinomialTail, pValueFromLog } from "../stats/binomial.js";
import { empiricalPValue, INCONCLUSIVE_BELOW } from "../watermark/verdict.js";

export type DetectVerdict = "stolen" | "not-detected" | "inconclusive";

export interface TriggerOutcome {
  index: number;
  expected: number;
  /** The suspect's label, or null when the query failed (timeout, malformed answer, …). */
  got: number | null;
  /** Probability that a model that never saw the key answers `expected` (at most). */
  nullProbability: number;
}

export interface DetectDecision {
  verdict: DetectVerdict;
  /** Triggers answered (failures excluded). */
  n: number;
  matches: number;
  failures: number;
  planned: number;
  /** The p-value the verdict rests on: failures as mismatches, times `multiplicity` (capped at 1). */
  pValue: number;
  log10PValue: number;
  alpha: number;
  /** Bonferroni factor: the runs this one must be corrected for (v2: at least its block + 1). */
  multiplicity: number;
  /** Null model of the test. */
  method: "exact Poisson-binomial upper tail over the planned triggers (failures as mismatches), Bonferroni over committed runs";
  /** With reference models: (1 + #refs with at least as many matches) / (1 + R). */
  empirical: { pValue: number; referenceMatches: number[] } | null;
  /** Why the verdict is inconclusive, when it is. */
  reason: string | null;
}

export interface DecideOptions {
  alpha: number;
  /** Above this fraction of failed trigger queries the run cannot support "not-detected". */
  maxFailureFraction: number;
  referenceMatches?: readonly number[];
  /** Runs to correct for (default 1). */
  multiplicity?: number;
  /** An incomplete run can support "inconclusive" at most (default: complete). */
  complete?: boolean;
}

/**
 * The detection verdict. The test is the exact tail P[matches >= k] under independent per-trigger
 * null probabilities over every planned trigger: a failed query counts as a mismatch, so whoever
 * writes the report gains nothing by calling unwelcome answers failures. The p-value is multiplied by
 * the number of committed runs (Bonferroni), so rerunning until lucky does not pay. "stolen" needs a
 * complete run and p <= α (and, with references, an empirical p that does not contradict it: the
 * smallest it can be is 1/(1+R)); too many failures make a non-significant result "inconclusive",
 * never "not-detected".
 */
export function decideDetection(outcomes: readonly TriggerOutcome[], o: DecideOptions): DetectDecision {
  const answered = outcomes.filter((t) => t.got !== null);
  const matches = answered.filter((t) => t.got === t.expected).length;
  const failures = outcomes.length - answered.length;
  const multiplicity = Math.max(1, Math.floor(o.multiplicity ?? 1));
  const ln =
    outcomes.length === 0
      ? 0
      : Math.min(
          0,
          Math.log(multiplicity) +
            logPoissonBinomialTail(
              outcomes.map((t) => t.nullProbability),
              matches,
            ),
        );
  const p = pValueFromLog(ln);
  const complete = o.complete ?? true;
  const refs = o.referenceMatches ?? [];
  const empirical = refs.length ? { pValue: empiricalPValue(matches, refs), referenceMatches: [...refs] } : null;
  const tooManyFailures = outcomes.length === 0 || failures / outcomes.length > o.maxFailureFraction;
  let verdict: DetectVerdict;
  let reason: string | null = null;
  if (!complete && answered.length > 0 && p.log10PValue <= Math.log10(o.alpha)) {
    verdict = "inconclusive";
    reason = `p = ${p.pValue.toExponential(2)} reaches α, but the run is incomplete: finish it (rerun to resume)`;
  } else if (answered.length > 0 && p.log10PValue <= Math.log10(o.alpha)) {
    verdict = "stolen";
    if (empirical && refs.some((r) => r >= matches)) {
      verdict = "inconclusive";
      reason = "a reference model matched at least as many triggers as the suspect";
    }
  } else if (tooManyFailures) {
    verdict = "inconclusive";
    reason = `${failures} of ${outcomes.length} trigger queries failed (more than ${Math.round(o.maxFailureFraction * 100)}%)`;
  } else if (p.log10PValue <= Math.log10(INCONCLUSIVE_BELOW)) {
    verdict = "inconclusive";
    reason = `p = ${p.pValue.toExponential(2)} is above α = ${o.alpha} but below ${INCONCLUSIVE_BELOW}`;
  } else {
    verdict = "not-detected";
  }
  return {
    verdict,
    n: answered.length,
    matches,
    failures,
    planned: outcomes.length,
    pValue: p.pValue,
    log10PValue: p.log10PValue,
    alpha: o.alpha,
    multiplicity,
    method:
      "exact Poisson-binomial upper tail over the planned triggers (failures as mismatches), Bonferroni over committed runs",
    empirical,
    reason,
  };
}
