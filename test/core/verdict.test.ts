import { describe, expect, it } from "vitest";
import { decide, empiricalPValue } from "../../src/core/watermark/verdict.js";

describe("decide", () => {
  it("applies the Bonferroni bound over the tests that ran", () => {
    expect(decide([-7, -1], 1e-6)).toEqual({ verdict: "watermarked", combinedLog10P: -7 + Math.log10(2), tests: 2 });
    // 2 × 8e-7 = 1.6e-6 > 1e-6: the correction matters at the boundary
    expect(decide([Math.log10(8e-7), 0], 1e-6).verdict).toBe("inconclusive");
    expect(decide([Math.log10(8e-7)], 1e-6).verdict).toBe("watermarked");
  });

  it("separates inconclusive from not detected at 1e-2", () => {
    expect(decide([-3, -0.5], 1e-6).verdict).toBe("inconclusive");
    expect(decide([-1.5, -0.2], 1e-6).verdict).toBe("not-detected");
    expect(decide([-2.5], 1e-6).verdict).toBe("inconclusive");
  });

  it("is inconclusive when no test could run, and caps the combined p at 1", () => {
    expect(decide([], 1e-6)).toEqual({ verdict: "inconclusive", combinedLog10P: 0, tests: 0 });
    expect(decide([-0.1, -0.1], 1e-6).combinedLog10P).toBe(0);
  });
});

describe("empiricalPValue", () => {
  it("counts references at least as extreme, plus one", () => {
    expect(empiricalPValue(10, [3, 10, 12, 1])).toBe(3 / 5);
    expect(empiricalPValue(100, [3, 4])).toBe(1 / 3);
    expect(empiricalPValue(0, [])).toBe(1);
  });
});
