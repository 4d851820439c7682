import { INCONCLUSIVE_BELOW } from "../watermark/verdict.js";
import type { DetectDecision } from "./detect-verdict.js";
import type { WhiteBoxResult } from "./evidence.js";

/**
 * The verdict of a fetched model's two tests, Bonferroni over the trigger test (its p-value already
 * corrected for the committed runs) and the weight-mark test: "stolen" when 2 · min p <= α. The
 * weight mark is read from the model's own bytes, so it does not need the queries to have
 * succeeded; an unfinished run's trigger test is left out (as alone it never supports "stolen"),
 * and without the weight mark, the trigger test's "inconclusive" stands.
 */
export function combineWhiteBox(
  trigger: DetectDecision,
  weightMark: WhiteBoxResult["weightMark"],
  o: { alpha: number; complete: boolean },
): WhiteBoxResult["combined"] {
  const log10Ps = [
    ...(o.complete ? [trigger.log10PValue] : []),
    ...(weightMark.applicable ? [weightMark.log10PValue] : []),
  ];
  if (log10Ps.length === 0) return { verdict: "inconclusive", log10PValue: 0, tests: 0 };
  const alpha = o.alpha;
  const log10PValue = Math.min(0, Math.log10(log10Ps.length) + Math.min(...log10Ps));
  const verdict =
    log10PValue <= Math.log10(alpha)
      ? "stolen"
      : trigger.verdict === "inconclusive" || log10PValue <= Math.log10(INCONCLUSIVE_BELOW)
        ? "inconclusive"
        : "not-detected";
  return { verdict, log10PValue, tests: log10Ps.length };
}
