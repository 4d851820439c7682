import { describe, expect, it } from "vitest";
import { logBinomialTail } from "../../../src/core/stats/binomial.js";
import { runSizeFor, triggerCountFor } from "../../../src/core/watermark/trigger-count.js";

describe("trigger set sizing", () => {
  it.each([2, 3, 5, 10, 100, 1000])("an intact mark on %i classes reaches p <= 1e-30 on half the set", (C) => {
    const { triggers, runSize } = triggerCountFor(C);
    expect(runSize).toBeLessThanOrEqual(triggers / 2 + 0.5);
    const lnP = logBinomialTail(runSize, Math.ceil(0.9 * runSize), 1 / C);
    expect(lnP / Math.LN10).toBeLessThanOrEqual(-30);
    // Smallest such n: one fewer trigger misses the target.
    const n = runSizeFor(C);
    expect(logBinomialTail(n - 1, Math.ceil(0.9 * (n - 1)), 1 / C) / Math.LN10).toBeGreaterThan(-30);
  });

  it("two classes need far more triggers than ten", () => {
    expect(runSizeFor(2)).toBeGreaterThan(4 * runSizeFor(10));
  });

  it("keeps a larger requested count and halves it for runs", () => {
    expect(triggerCountFor(10, 300)).toEqual({ triggers: 300, runSize: 150 });
    expect(() => runSizeFor(1)).toThrow(RangeError);
  });
});
