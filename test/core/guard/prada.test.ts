import { beforeAll, describe, expect, it } from "vitest";
import { PRADA_DEFAULT_DELTA, PradaMonitor, type PradaObservation } from "../../../src/core/guard/prada.js";
import { shapiroWilk } from "../../../src/core/guard/shapiro-wilk.js";
import { createRng } from "../../../src/core/rng.js";
import { ProvmarkError } from "../../../src/errors.js";
import type { ImageDataset } from "../../../src/model/datasets/dataset.js";
import { loadMnistPackage } from "../../../src/model/datasets/mnist-package.js";

const PIXELS = 784;
let mnist: ImageDataset;
beforeAll(async () => {
  mnist = await loadMnistPackage();
});
const digit = (i: number) => mnist.test.x.subarray(i * PIXELS, (i + 1) * PIXELS);

function vec(values: number[]): Float32Array {
  return Float32Array.from(values);
}

function rowsOf(m: PradaMonitor): Record<number, number> {
  const out: Record<number, number> = {};
  for (const c of m.toJSON().classes) out[c.label] = Buffer.from(c.rows, "base64").length / (4 * m.inputSize);
  return out;
}

/** Papernot's augmentation shape without a surrogate: seeds, then rounds of x ± 0.1·sign(random). */
function jbda(seeds: Float32Array[], n: number, seed: number): Float32Array[] {
  const rng = createRng(seed, "prada-test/jbda");
  const out = [...seeds];
  while (out.length < n) {
    const round = out.length;
    for (let j = 0; j < round && out.length < n; j++) {
      const src = out[j] as Float32Array;
      out.push(src.map((v) => Math.min(1, Math.max(0, v + (rng.next() < 0.5 ? -0.1 : 0.1)))));
    }
  }
  return out;
}

describe("PradaMonitor bookkeeping", () => {
  it("seeds a class with its first query, then reports the minimum L2 distance to the set", () => {
    const m = new PradaMonitor({ delta: 0.9 }, 2);
    expect(m.observe(vec([0, 0]), 3).distance).toBeNull();
    expect(m.observe(vec([3, 4]), 3).distance).toBeCloseTo(5, 6);
    // The other class has its own set.
    expect(m.observe(vec([3, 4]), 1).distance).toBeNull();
    // [3, 4] joined class 3 (5 > threshold 0), so [3, 5] is 1 away from it.
    expect(m.observe(vec([3, 5]), 3).distance).toBeCloseTo(1, 6);
    expect(m.queries).toBe(4);
  });

  it("a duplicate query (distance 0) does not join the set; a distant one does", () => {
    const m = new PradaMonitor({ delta: 0.9 }, 2);
    m.observe(vec([0, 0]), 0);
    m.observe(vec([0, 0]), 0);
    expect(rowsOf(m)[0]).toBe(1);
    m.observe(vec([10, 0]), 0);
    expect(rowsOf(m)[0]).toBe(2);
  });

  it("the join threshold is max(T, mean − std) of the joining distances, the seed counting 0, and never falls", () => {
    const m = new PradaMonitor({ delta: 0.9 }, 1);
    m.observe(vec([0]), 0); // set dists [0]
    m.observe(vec([10]), 0); // d = 10 joins; dists [0, 10]: mean 5, std 5 → T = 0
    m.observe(vec([20]), 0); // d = 10 joins; [0, 10, 10]: mean 6.67, std 4.71 → T = 1.953
    m.observe(vec([21.9]), 0); // d = 1.9 < T: stays out
    expect(rowsOf(m)[0]).toBe(3);
    m.observe(vec([22]), 0); // d = 2 > T joins
    expect(rowsOf(m)[0]).toBe(4);
    // [0, 10, 10, 2] gives mean − std = 0.945, below the 1.953 reached before: T stays.
    expect(m.toJSON().classes[0]?.threshold).toBeCloseTo(20 / 3 - Math.sqrt(200 / 9), 9);
  });

  it("tests every `every` queries once more than minDistances distances pool, with W of those distances", () => {
    const m = new PradaMonitor({ delta: 0.5, minDistances: 20, every: 5 }, 1);
    const rng = createRng(1, "prada-test/gauss");
    const obs: PradaObservation[] = [];
    const dists: number[] = [];
    for (let q = 0; q < 60; q++) {
      // One class, points along a line: each new point is far from all earlier ones.
      const o = m.observe(vec([q * 100 + rng.next()]), 0);
      obs.push(o);
      if (o.distance !== null) dists.push(o.distance);
    }
    const tested = obs.filter((o) => o.tested).map((o) => o.queries);
    // 21 distances need 22 queries; the first multiple of 5 after that is 25.
    expect(tested).toEqual([25, 30, 35, 40, 45, 50, 55, 60]);
    const last = obs[59] as PradaObservation;
    expect(last.w).toBeCloseTo(shapiroWilk(dists).w, 12);
    expect(obs[24]?.w).not.toBeNull();
    expect(obs[23]?.w).toBeNull();
  });

  it("pools only classes with at least 10 distances", () => {
    const m = new PradaMonitor({ delta: 0.5, minDistances: 20, every: 1 }, 1);
    // 30 distances in class 0, 9 in class 1: only class 0's enter; 15 + 9 would not reach 21.
    for (let q = 0; q < 10; q++) m.observe(vec([q * 7]), 1);
    let tested = false;
    // Growing gaps, so class 0's distances (2q − 1) are not all equal.
    for (let q = 0; q < 16; q++) tested = m.observe(vec([q * q]), 0).tested || tested;
    expect(tested).toBe(false);
    for (let q = 16; q < 31; q++) tested = m.observe(vec([q * q]), 0).tested || tested;
    expect(tested).toBe(true);
  });

  it("keeps at most maxRowsPerClient rows, evicting the oldest of the largest class, and bounded bytes", () => {
    const m = new PradaMonitor({ delta: 0.9, maxRowsPerClient: 8, maxDistances: 200 }, 4);
    const rng = createRng(2, "prada-test/noise");
    for (let q = 0; q < 3000; q++)
      m.observe(
        Float32Array.from({ length: 4 }, () => rng.next() * 1000),
        q % 3 === 0 ? 1 : 0,
      );
    const rows = rowsOf(m);
    expect((rows[0] ?? 0) + (rows[1] ?? 0)).toBe(8);
    expect(rows[0]).toBe(4);
    expect(rows[1]).toBe(4);
    expect(m.memoryBytes()).toBeLessThan(8 * 4 * 4 + 200 * 12 + 2048);
    expect(m.toJSON().distanceClasses).toHaveLength(200);
  });

  it("evicts the oldest row first", () => {
    const m = new PradaMonitor({ delta: 0.9, maxRowsPerClient: 3 }, 1);
    for (const v of [0, 10, 30, 60]) m.observe(vec([v]), 0);
    const rows = new Float32Array(Uint8Array.from(Buffer.from(m.toJSON().classes[0]?.rows ?? "", "base64")).buffer);
    expect([...rows]).toEqual([10, 30, 60]);
    // 0 is gone: 1 is 9 away from its nearest row (10), not 1.
    expect(m.observe(vec([1]), 0).distance).toBeCloseTo(9, 6);
  });

  it("at defaults a client of 784-float inputs holds under 1.7 MB however long it queries", () => {
    const m = new PradaMonitor({ delta: PRADA_DEFAULT_DELTA }, PIXELS);
    const rng = createRng(3, "prada-test/long");
    const x = new Float32Array(PIXELS);
    for (let q = 0; q < 6000; q++) {
      for (let i = 0; i < PIXELS; i++) x[i] = rng.next();
      m.observe(x, q % 10);
    }
    // 500 rows × 784 × 4 B = 1,568,000 B of rows, plus 5000 × 12 B of distances.
    expect(m.memoryBytes()).toBeGreaterThan(1_568_000 + 60_000);
    expect(m.memoryBytes()).toBeLessThan(1_700_000);
  });

  it("round-trips through toJSON/fromJSON and then observes exactly like the original", () => {
    const a = new PradaMonitor({ delta: 0.95, minDistances: 30, every: 3, maxRowsPerClient: 40 }, PIXELS);
    for (let i = 0; i < 120; i++) a.observe(digit(i), mnist.test.y[i] as number);
    const b = PradaMonitor.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
    expect(b.queries).toBe(120);
    for (let i = 120; i < 200; i++) {
      expect(b.observe(digit(i), mnist.test.y[i] as number)).toEqual(a.observe(digit(i), mnist.test.y[i] as number));
    }
    expect(b.memoryBytes()).toBeLessThanOrEqual(a.memoryBytes() + 1024);
  });

  it("an attacker's NaN input is refused before it touches the state", () => {
    const m = new PradaMonitor({ delta: 0.9 }, 2);
    m.observe(vec([0, 0]), 0);
    expect(() => m.observe(vec([Number.NaN, 1]), 0)).toThrow(ProvmarkError);
    expect(m.queries).toBe(1);
    expect(m.observe(vec([3, 4]), 0).distance).toBeCloseTo(5, 6);
  });

  it("a client repeating one input (all distances 0) plus one outlier is not tested, and nothing throws", () => {
    const m = new PradaMonitor({ delta: 0.9, minDistances: 20, every: 1 }, 1);
    m.observe(vec([0]), 0);
    m.observe(vec([1000]), 0);
    let tested = false;
    for (let q = 0; q < 200; q++) tested = m.observe(vec([0]), 0).tested || tested;
    expect(tested).toBe(false);
  });

  it("refuses bad options, inputs and states with USAGE errors", () => {
    const usage = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(ProvmarkError);
        return (e as ProvmarkError).code;
      }
      return "no error";
    };
    expect(usage(() => new PradaMonitor({ delta: 1.5 }, 4))).toBe("USAGE");
    expect(usage(() => new PradaMonitor({ delta: 0.9, maxDistances: 6000 }, 4))).toBe("USAGE");
    expect(usage(() => new PradaMonitor({ delta: 0.9, every: 0 }, 4))).toBe("USAGE");
    const m = new PradaMonitor({ delta: 0.9 }, 4);
    expect(usage(() => m.observe(new Float32Array(3), 0))).toBe("USAGE");
    expect(usage(() => m.observe(new Float32Array(4), -1))).toBe("USAGE");
    expect(usage(() => PradaMonitor.fromJSON({ version: 2 }))).toBe("USAGE");
    const st = new PradaMonitor({ delta: 0.9, maxRowsPerClient: 2 }, 1);
    for (let q = 0; q < 5; q++) st.observe(vec([q * 10]), 0);
    expect(usage(() => PradaMonitor.fromJSON(st.toJSON(), { maxRowsPerClient: 1 }))).toBe("USAGE");
  });
});

describe("PradaMonitor on MNIST (attacks it must flag, a user it must not)", () => {
  it("a natural user sending 500 real test digits (their true classes) is never flagged at the default δ", () => {
    const m = new PradaMonitor({ delta: PRADA_DEFAULT_DELTA }, PIXELS);
    let tests = 0;
    for (let i = 1000; i < 1500; i++) {
      const o = m.observe(digit(i), mnist.test.y[i] as number);
      if (o.tested) tests++;
      expect(o.alert).toBe(false);
    }
    expect(tests).toBeGreaterThan(30);
  });

  it("flags JBDA-shaped queries (10 seed digits, x ± 0.1·sign) within 300 queries", () => {
    const seeds = Array.from({ length: 10 }, (_, i) => Float32Array.from(digit(i)));
    const queries = jbda(seeds, 600, 1);
    const m = new PradaMonitor({ delta: PRADA_DEFAULT_DELTA }, PIXELS);
    let at: number | null = null;
    for (const [q, x] of queries.entries()) {
      // The seed's class stands for the victim's prediction: ±0.1 noise rarely changes an MLP's answer.
      const o = m.observe(x, mnist.test.y[q % 10] as number);
      if (o.alert && at === null) at = o.queries;
    }
    expect(at).not.toBeNull();
    expect(at as number).toBeLessThanOrEqual(300);
  });
});

describe("PradaMonitor against an attacker hiding behind a benign history", () => {
  /** Queries until the alert (null: none in 2,000) and the lowest W for 300 natural digits, then JBDA. */
  function run(delta: number): { at: number | null; minW: number } {
    const m = new PradaMonitor({ delta }, PIXELS);
    for (let i = 0; i < 300; i++)
      expect(m.observe(digit(1500 + i), mnist.test.y[1500 + i] as number).alert).toBe(false);
    const seeds = Array.from({ length: 10 }, (_, i) => Float32Array.from(digit(i)));
    let minW = 1;
    for (const [q, x] of jbda(seeds, 2000, 2).entries()) {
      const o = m.observe(x, mnist.test.y[q % 10] as number);
      if (o.tested && o.w !== null) minW = Math.min(minW, o.w);
      if (o.alert) return { at: q + 1, minW };
    }
    return { at: null, minW };
  }

  // A known limit, pinned so that a change shows (docs/guard-math.md): the natural prefix raises every
  // class's join threshold above the ±0.1 steps, so the synthetic queries never join the growing sets
  // and their distances to the natural members look nearly normal (lowest W 0.936).
  it("at the default δ 0.93 misses it; at the paper's 0.95 flags it", () => {
    const atDefault = run(PRADA_DEFAULT_DELTA);
    expect(atDefault.at).toBeNull();
    expect(atDefault.minW).toBeGreaterThan(0.93);
    expect(atDefault.minW).toBeLessThan(0.95);
    const atPaper = run(0.95);
    expect(atPaper.at).not.toBeNull();
    if (process.env.PROVMARK_PRINT_FIGURES) console.info("benign prefix + JBDA:", atDefault, atPaper);
  });
});
