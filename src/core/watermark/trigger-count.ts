import { logBinomialTail } from "../stats/binomial.js";

/** What an intact mark must reach on one run: p ≤ 1e-30 even if a tenth of its triggers are missed. */
export const RUN_TARGET = { log10P: -30, matchRate: 0.9 } as const;

/**
 * Triggers per detection run for C classes: the smallest n for which a model that matches 90% of
 * them reaches p ≤ 1e-30 against the null 1/C. Two classes need about six times as many as ten.
 */
export function runSizeFor(classes: number, target = RUN_TARGET): number {
  if (!Number.isInteger(classes) || classes < 2)
    throw new RangeError(`classes must be an integer >= 2, got ${classes}`);
  const ln = target.log10P * Math.LN10;
  for (let n = 1; n <= 100_000; n++) {
    if (logBinomialTail(n, Math.ceil(target.matchRate * n), 1 / classes) <= ln) return n;
  }
  throw new RangeError(`no run size up to 100000 reaches the target for ${classes} classes`);
}

/**
 * The trigger set's size: two runs' worth (a run uses half the set, so a second independent run is
 * possible before any trigger repeats), and never fewer than `atLeast`.
 */
export function triggerCountFor(classes: number, atLeast = 0): { triggers: number; runSize: number } {
  const runSize = runSizeFor(classes);
  const triggers = Math.max(2 * runSize, atLeast);
  return { triggers, runSize: Math.max(runSize, Math.floor(triggers / 2)) };
}
