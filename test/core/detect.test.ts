import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decideDetection, type TriggerOutcome } from "../../src/core/detect/detect-verdict.js";
import { planQueries } from "../../src/core/detect/plan.js";
import { nullLog10Pmf } from "../../src/detect/report/html.js";

const outcome = (i: number, expected: number, got: number | null, p = 0.1): TriggerOutcome => ({
  index: i,
  expected,
  got,
  nullProbability: p,
});

describe("planQueries", () => {
  it("draws a reproducible random subset hidden among decoys", () => {
    const a = planQueries({ triggerCount: 100, subset: 30, decoyCount: 500, decoyRatio: 3, runSeed: "s1" });
    expect(a.triggers).toHaveLength(30);
    expect(new Set(a.triggers).size).toBe(30);
    expect(a.queries).toHaveLength(120);
    expect(a.queries.filter((q) => q.kind === "decoy")).toHaveLength(90);
    expect(new Set(a.queries.map((q) => q.id)).size).toBe(120);
    expect(
      a.queries
        .filter((q) => q.kind === "trigger")
        .map((q) => (q.kind === "trigger" ? q.trigger : -1))
        .sort((x, y) => x - y),
    ).toEqual(a.triggers);
    expect(planQueries({ triggerCount: 100, subset: 30, decoyCount: 500, decoyRatio: 3, runSeed: "s1" })).toEqual(a);
    const b = planQueries({ triggerCount: 100, subset: 30, decoyCount: 500, decoyRatio: 3, runSeed: "s2" });
    expect(b.triggers).not.toEqual(a.triggers);
    // triggers are not all at the front: the first 30 queries hold some decoys
    expect(a.queries.slice(0, 30).some((q) => q.kind === "decoy")).toBe(true);
  });

  it("without decoys, queries only triggers; the subset is capped by the set", () => {
    const p = planQueries({ triggerCount: 10, subset: 50, decoyCount: 0, decoyRatio: 3, runSeed: "x" });
    expect(p.triggers).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(p.queries.every((q) => q.kind === "trigger")).toBe(true);
  });
});

describe("decideDetection", () => {
  it("all 50 triggers matched at p0 = 0.1 gives p = 1e-50 exactly: stolen", () => {
    const d = decideDetection(
      Array.from({ length: 50 }, (_, i) => outcome(i, i % 10, i % 10)),
      { alpha: 1e-6, maxFailureFraction: 0.1 },
    );
    expect(d.verdict).toBe("stolen");
    expect(d.matches).toBe(50);
    expect(d.log10PValue).toBeCloseTo(-50, 9);
  });

  it("chance-level matches are not detected; many failures make it inconclusive instead", () => {
    const chance = Array.from({ length: 50 }, (_, i) => outcome(i, 0, i < 5 ? 0 : 1));
    expect(decideDetection(chance, { alpha: 1e-6, maxFailureFraction: 0.1 }).verdict).toBe("not-detected");
    const failing = chance.map((o, i) => (i >= 40 ? { ...o, got: null } : o));
    const d = decideDetection(failing, { alpha: 1e-6, maxFailureFraction: 0.1 });
    expect(d).toMatchObject({ verdict: "inconclusive", failures: 10, n: 40 });
    expect(d.reason).toContain("10 of 50");
  });

  it("failures count as mismatches: calling an unwelcome answer a failure never lowers p", () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 80 }),
        fc.integer({ min: 0, max: 40 }),
        (hits, fails) => {
          const base = hits.map((h, i) => outcome(i, 1, h ? 1 : 2));
          const withFails = [...base, ...Array.from({ length: fails }, (_, i) => outcome(100 + i, 1, null))];
          const asMisses = [...base, ...Array.from({ length: fails }, (_, i) => outcome(100 + i, 1, 2))];
          const a = decideDetection(asMisses, { alpha: 1e-6, maxFailureFraction: 1 });
          const b = decideDetection(withFails, { alpha: 1e-6, maxFailureFraction: 1 });
          expect(b.matches).toBe(a.matches);
          expect(b.log10PValue).toBe(a.log10PValue);
          expect(b.failures).toBe(fails);
          expect(b.n).toBe(base.length);
        },
      ),
    );
  });

  it("multiplies p by the committed runs, and never calls an incomplete run stolen", () => {
    const all = Array.from({ length: 30 }, (_, i) => outcome(i, 3, 3));
    const one = decideDetection(all, { alpha: 1e-6, maxFailureFraction: 0.1 });
    const ten = decideDetection(all, { alpha: 1e-6, maxFailureFraction: 0.1, multiplicity: 10 });
    expect(ten.log10PValue).toBeCloseTo(one.log10PValue + 1, 9);
    expect(ten.multiplicity).toBe(10);
    const partial = decideDetection(all, { alpha: 1e-6, maxFailureFraction: 0.1, complete: false });
    expect(partial.verdict).toBe("inconclusive");
    expect(partial.reason).toContain("incomplete");
  });

  it("a reference model matching as often as the suspect blocks a 'stolen' verdict", () => {
    const all = Array.from({ length: 30 }, (_, i) => outcome(i, 3, 3));
    expect(decideDetection(all, { alpha: 1e-6, maxFailureFraction: 0.1, referenceMatches: [2, 4] }).verdict).toBe(
      "stolen",
    );
    const d = decideDetection(all, { alpha: 1e-6, maxFailureFraction: 0.1, referenceMatches: [2, 30] });
    expect(d.verdict).toBe("inconclusive");
    expect(d.empirical?.pValue).toBeCloseTo(2 / 3, 12);
  });
});

describe("nullLog10Pmf", () => {
  it("is a probability distribution matching the binomial for equal p", () => {
    const pmf = nullLog10Pmf(Array.from({ length: 20 }, () => 0.1)).map((l) => 10 ** l);
    expect(pmf.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(pmf[0]).toBeCloseTo(0.9 ** 20, 14);
    expect(pmf[20]).toBeCloseTo(1e-20, 30);
  });
});
