import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normalQuantile, normalUpperTail } from "../../../src/core/guard/normal.js";
import { shapiroWilk } from "../../../src/core/guard/shapiro-wilk.js";
import { ProvmarkError } from "../../../src/errors.js";

/** The Park-Miller stream of shapiro-wilk-golden.py: exact in doubles, so both languages draw the same sample. */
function sample(kind: string, n: number, seed: number): number[] {
  let s = seed;
  const u = () => {
    s = (s * 48271) % 2147483647;
    return s / 2147483647;
  };
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (kind === "normal") {
      const u1 = u();
      const u2 = u();
      out.push(Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
    } else if (kind === "uniform") out.push(u());
    else out.push(-Math.log(u()));
  }
  return out;
}

// [kind, n, seed, W and p of scipy 1.10.1 stats.shapiro (float32), W and p of AS R94 in float64]
// from test/core/guard/shapiro-wilk-golden.py.
const GOLDEN: [string, number, number, number, number, number, number][] = [
  ["normal", 3, 1004, 0.9882459044456482, 0.7925310730934143, 0.9882459470568047, 0.7925326898071834],
  ["normal", 4, 1005, 0.8830515146255493, 0.35183289647102356, 0.8830515070110956, 0.3518328054320726],
  ["normal", 5, 1006, 0.8949031233787537, 0.3823596239089966, 0.8949031360847187, 0.38235956374847996],
  ["normal", 6, 1007, 0.9078916907310486, 0.4226721227169037, 0.9078917965610275, 0.42267272887544194],
  ["normal", 10, 1011, 0.8288928270339966, 0.03244877979159355, 0.82889289252333, 0.03244879426021365],
  ["normal", 11, 1012, 0.969551146030426, 0.8819615840911865, 0.969551217048868, 0.8819620390621334],
  ["normal", 12, 1013, 0.9441522359848022, 0.5536544322967529, 0.9441523792823778, 0.553656510481592],
  ["normal", 100, 1101, 0.990652859210968, 0.7172871828079224, 0.9906527834951169, 0.7172817756204487],
  ["normal", 1000, 2001, 0.9979061484336853, 0.24554722011089325, 0.9979062110661454, 0.24556020555517777],
  ["normal", 5000, 6001, 0.9995021224021912, 0.21604938805103302, 0.9995039034765208, 0.218842093500838],
  ["uniform", 3, 1005, 0.9089075326919556, 0.4144432842731476, 0.9089076210825274, 0.4144447558624616],
  ["uniform", 4, 1006, 0.8575606346130371, 0.2515977919101715, 0.8575607535175611, 0.25159814193016117],
  ["uniform", 5, 1007, 0.8596828579902649, 0.2271120399236679, 0.8596828003185422, 0.22711173576394456],
  ["uniform", 6, 1008, 0.8140054941177368, 0.07825946062803268, 0.814005402581246, 0.07825925382894038],
  ["uniform", 10, 1012, 0.9223290681838989, 0.3767906725406647, 0.9223289335393023, 0.3767893757715289],
  ["uniform", 11, 1013, 0.8326796293258667, 0.025316370651125908, 0.8326796576430283, 0.02531637784236997],
  ["uniform", 12, 1014, 0.9442254900932312, 0.5546656250953674, 0.9442254804191675, 0.554665240129489],
  ["uniform", 100, 1102, 0.9635004997253418, 0.0072000594809651375, 0.9635001393160225, 0.007199589107264386],
  ["uniform", 1000, 2002, 0.9512088298797607, 1.0719912495649354e-17, 0.9512092043422009, 1.0721643922311085e-17],
  ["uniform", 5000, 6002, 0.9569284319877625, 4.3051465386154846e-36, 0.956927889156999, 4.303323104394517e-36],
  ["exponential", 3, 1006, 0.861225426197052, 0.27095240354537964, 0.8612254015714743, 0.27095326247351686],
  ["exponential", 4, 1007, 0.7253689765930176, 0.022075355052947998, 0.7253690198746617, 0.022075375987463283],
  ["exponential", 5, 1008, 0.7728152275085449, 0.04775814339518547, 0.772815210794191, 0.047758140180045],
  ["exponential", 6, 1009, 0.6422495245933533, 0.0014371314318850636, 0.642249546036305, 0.0014371321477354532],
  ["exponential", 10, 1013, 0.8648245930671692, 0.08696097135543823, 0.8648244986492276, 0.08696076539163994],
  ["exponential", 11, 1014, 0.854783296585083, 0.04926368221640587, 0.8547832272294568, 0.04926347101818498],
  ["exponential", 12, 1015, 0.6560060977935791, 0.00032797150197438896, 0.656006176176411, 0.0003279716806407165],
  ["exponential", 100, 1103, 0.8354482054710388, 3.5650480345594815e-9, 0.8354480487911269, 3.5649788034661195e-9],
  ["exponential", 1000, 2003, 0.815270721912384, 2.397377088274281e-32, 0.8152698982886635, 2.397060539201068e-32],
  ["exponential", 5000, 6003, 0.8151315450668335, 0.0, 0.8151302529722472, 4.117013966652314e-60],
];

describe("shapiroWilk", () => {
  it.each(GOLDEN)("%s n=%i matches scipy and the float64 restatement", (kind, n, seed, w32, p32, w64, p64) => {
    const { w, p } = shapiroWilk(sample(kind, n, seed));
    // scipy's swilk is single precision: W to a few float32 ulps (more at n ≥ 1000, where it sums thousands of
    // float32 terms), p through the steep tail map of 1 − W.
    expect(Math.abs(w - w32)).toBeLessThan(n >= 1000 ? 3e-6 : 5e-7);
    if (p32 > 0) expect(Math.abs(p - p32) / p32).toBeLessThan(n >= 5000 ? 2e-2 : 1e-3);
    expect(Math.abs(w - w64)).toBeLessThan(1e-12);
    expect(Math.abs(p - p64) / p64).toBeLessThan(1e-9);
  });

  it("rejects the normal hypothesis for skewed data and keeps it for normal data", () => {
    expect(shapiroWilk(sample("exponential", 1000, 7)).p).toBeLessThan(1e-20);
    expect(shapiroWilk(sample("normal", 1000, 7)).p).toBeGreaterThan(0.01);
  });

  it("W is invariant under order, shift and positive scale, and lies in (0, 1]", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 3, maxLength: 60 }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
        (xs, shift, scale) => {
          // Well-conditioned samples only: a range of 1e-9 relative to the values leaves no digits to compare.
          const big = Math.max(...xs.map(Math.abs)) + Math.abs(shift) / scale;
          fc.pre(Math.max(...xs) - Math.min(...xs) > 1e-3 * (1 + big));
          const base = shapiroWilk(xs);
          const moved = shapiroWilk([...xs].reverse().map((v) => v * scale + shift));
          expect(base.w).toBeGreaterThan(0);
          expect(base.w).toBeLessThanOrEqual(1 + 1e-12);
          expect(base.p).toBeGreaterThanOrEqual(0);
          expect(base.p).toBeLessThanOrEqual(1);
          expect(Math.abs(moved.w - base.w)).toBeLessThan(1e-8);
        },
      ),
    );
  });

  it("n = 3 has the exact distribution: W ≥ 3/4, p = 0 at the bound and 1 for equal spacing", () => {
    expect(shapiroWilk([0, 0, 1]).w).toBeCloseTo(0.75, 12);
    expect(shapiroWilk([0, 0, 1]).p).toBeLessThan(1e-12);
    expect(shapiroWilk([1, 2, 3]).w).toBeCloseTo(1, 12);
    expect(shapiroWilk([1, 2, 3]).p).toBeCloseTo(1, 9);
  });

  it.each([
    ["two values", [1, 2]],
    ["5001 values", sample("normal", 5001, 3)],
    ["all equal", [2, 2, 2, 2]],
    ["a NaN", [1, 2, Number.NaN, 4]],
    ["an infinity", [1, 2, Number.POSITIVE_INFINITY, 4]],
  ])("refuses %s with a USAGE error", (_what, xs) => {
    let caught: unknown;
    try {
      shapiroWilk(xs);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ProvmarkError);
    expect((caught as ProvmarkError).code).toBe("USAGE");
  });
});

describe("normal distribution helpers", () => {
  it("quantile and upper tail invert each other deep into the tails", () => {
    for (const p of [1e-300, 1e-100, 1e-20, 1e-5, 0.01, 0.2, 0.5, 0.7, 0.99]) {
      const z = normalQuantile(p);
      expect(Math.abs(normalUpperTail(-z) - p) / p).toBeLessThan(1e-11);
    }
  });

  it("matches known values", () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 14);
    expect(normalUpperTail(1.959963984540054)).toBeCloseTo(0.025, 15);
    expect(normalUpperTail(0)).toBe(0.5);
    // Q(10) = 7.619853024160527e-24 (Abramowitz & Stegun 26.2.3 tables; R's pnorm(10, lower = FALSE)).
    expect(Math.abs(normalUpperTail(10) / 7.619853024160527e-24 - 1)).toBeLessThan(1e-12);
  });
});
