import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stratifiedSplit, TEST_FRACTION, testCount } from "../../src/model/datasets/split.js";

describe("stratifiedSplit", () => {
  it("holds out 20% of each class (floor), at least one of a class of two, none of a class of one", () => {
    expect([1, 2, 3, 5, 9, 10, 11, 100].map(testCount)).toEqual([0, 1, 1, 1, 1, 2, 2, 20]);
    // Teachable Machine's 22 images, 11 per class: 2 + 2 held out
    const groups = Array.from({ length: 22 }, (_, i) => (i < 11 ? 0 : 1));
    const s = stratifiedSplit(groups, "t");
    expect(s.test.map((i) => groups[i])).toEqual([0, 0, 1, 1]);
    expect(s.train.length).toBe(18);
    expect(s.note).toContain("18 train / 4 test");
    const lonely = stratifiedSplit([0, 0, 0, 1], "t");
    expect(lonely.test.map((i) => [0, 0, 0, 1][i])).toEqual([0]);
    expect(lonely.train).toContain(3);
    expect(lonely.note).toContain("1 class(es) with a single example");
  });

  it("is a seeded partition: disjoint, complete, sorted, the same every time, another per stream", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 200 }), (groups) => {
        const a = stratifiedSplit(groups, "s");
        expect(stratifiedSplit(groups, "s")).toEqual(a);
        expect([...a.train, ...a.test].sort((x, y) => x - y)).toEqual(groups.map((_, i) => i));
        expect(a.train).toEqual([...a.train].sort((x, y) => x - y));
        for (const g of new Set(groups)) {
          const n = groups.filter((v) => v === g).length;
          expect(a.test.filter((i) => groups[i] === g).length).toBe(testCount(n));
        }
      }),
    );
    const many = Array.from({ length: 100 }, () => 0);
    expect(stratifiedSplit(many, "a").test).not.toEqual(stratifiedSplit(many, "b").test);
    expect(stratifiedSplit(many, "a").test.length).toBe(100 * TEST_FRACTION);
    // with names, a class's held-out examples follow its name, not its index
    const two = Array.from({ length: 40 }, (_, i) => i % 2);
    const swapped = two.map((g) => 1 - g);
    expect(stratifiedSplit(swapped, "n", ["y", "x"]).test).toEqual(stratifiedSplit(two, "n", ["x", "y"]).test);
    expect(stratifiedSplit(swapped, "n").test).not.toEqual(stratifiedSplit(two, "n").test);
  });
});
