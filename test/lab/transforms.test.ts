import { describe, expect, it } from "vitest";
import { createRng } from "../../src/core/rng.js";
import { attackGrid, settingLabel } from "../../src/lab/attack-grid.js";
import { transformImages } from "../../src/lab/input-transforms.js";
import { ATTACK_FAMILIES } from "../../src/lab/lab-types.js";
import { summarizeNullBank } from "../../src/lab/null-bank.js";
import { addGaussianNoise, f16round, pruneMasks, quantizeValues } from "../../src/lab/weight-transforms.js";

describe("weight transforms", () => {
  it("rounds to half precision like IEEE 754 (ties to even, subnormals, overflow)", () => {
    expect(f16round(1)).toBe(1);
    expect(f16round(1 + 2 ** -11)).toBe(1); // a tie: to even
    expect(f16round(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
    expect(f16round(0.1)).toBe(0.0999755859375);
    expect(f16round(-(2 ** -24))).toBe(-(2 ** -24));
    expect(f16round(2 ** -26)).toBe(0);
    expect(f16round(65504)).toBe(65504);
    expect(f16round(70000)).toBe(Number.POSITIVE_INFINITY);
  });

  it("quantizes linearly, and affinely the way TF.js does (0 exact, range kept)", () => {
    expect(Array.from(quantizeValues(Float32Array.of(0.5, -1, 0.26), { kind: "linear", bits: 2 }))).toEqual([1, -1, 0]);
    const w = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 0.3 + 0.05);
    for (const bits of [8, 16] as const) {
      const q = quantizeValues(w, { kind: "affine", bits });
      const step = (Math.max(...w) - Math.min(0, ...w)) / (2 ** bits - 1);
      for (let i = 0; i < w.length; i++)
        expect(Math.abs((q[i] as number) - (w[i] as number))).toBeLessThanOrEqual(step);
      expect(quantizeValues(Float32Array.of(0, 1, -1), { kind: "affine", bits })[0]).toBeCloseTo(0, 12);
    }
    const err = (bits: number) => {
      const q = quantizeValues(w, { kind: "linear", bits });
      return Math.max(...w.map((v, i) => Math.abs(v - (q[i] as number))));
    };
    expect(err(4)).toBeGreaterThan(err(6));
    expect(err(6)).toBeGreaterThan(err(8));
  });

  it("prunes the smallest magnitudes globally or per tensor", () => {
    const a = Float32Array.of(0.1, -0.2, 0.3, -0.4);
    const b = Float32Array.of(1, 2, -3, 4);
    const [ga, gb] = pruneMasks([a, b], 0.5, "global");
    expect(Array.from(ga as Uint8Array)).toEqual([0, 0, 0, 0]);
    expect(Array.from(gb as Uint8Array)).toEqual([1, 1, 1, 1]);
    const [la, lb] = pruneMasks([a, b], 0.5, "layer");
    expect(Array.from(la as Uint8Array)).toEqual([0, 0, 1, 1]);
    expect(Array.from(lb as Uint8Array)).toEqual([0, 0, 1, 1]);
  });

  it("adds seeded noise scaled to each tensor's spread", () => {
    const w = Float32Array.from({ length: 20_000 }, (_, i) => Math.cos(i));
    const n1 = addGaussianNoise(w, 0.5, createRng(1, "t"));
    expect(addGaussianNoise(w, 0.5, createRng(1, "t"))).toEqual(n1);
    const d = n1.map((v, i) => v - (w[i] as number));
    const sd = Math.sqrt(d.reduce((a, v) => a + v * v, 0) / d.length);
    expect(sd).toBeCloseTo(0.5 * Math.SQRT1_2, 2);
  });
});

describe("input transforms", () => {
  const shape = [4, 4, 1] as const;
  const img = Float32Array.from({ length: 16 }, (_, i) => i / 15);

  it("blurs, down/up-samples and quantizes pixels, staying in [0, 1]", () => {
    const down = transformImages(img, shape, { kind: "downsample", factor: 2 });
    expect(down[0]).toBeCloseTo((0 + 1 + 4 + 5) / 4 / 15, 6);
    expect(down[5]).toBe(down[0]);
    const blur = transformImages(img, shape, { kind: "blur", radius: 1 });
    expect(blur[5]).toBeCloseTo((0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10) / 9 / 15, 6);
    expect(Array.from(new Set(transformImages(img, shape, { kind: "pixel-quantize", bits: 1 })))).toEqual([0, 1]);
    const noisy = transformImages(img, shape, { kind: "noise", sigma: 0.5 }, 3);
    expect(transformImages(img, shape, { kind: "noise", sigma: 0.5 }, 3)).toEqual(noisy);
    expect(Math.min(...noisy)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...noisy)).toBeLessThanOrEqual(1);
  });
});

describe("attack grid and null summary", () => {
  it("covers every family, with the settings the targets refer to", () => {
    const grid = attackGrid(ATTACK_FAMILIES, { trainLearningRate: 2e-3, victimArch: "mlp" });
    const labels = grid.map(settingLabel);
    expect(new Set(grid.map((s) => s.family))).toEqual(new Set(ATTACK_FAMILIES));
    expect(labels).toContain("FTAL lr=0.002 5 ep, 100% data");
    expect(labels).toContain("RTAL lr=0.02×0.5/epoch 5 ep, 100% data");
    expect(labels).toContain("global prune 60%");
    expect(labels).toContain("layer prune 90%");
    expect(labels).toEqual(
      expect.arrayContaining([
        "8-bit linear",
        "6-bit linear",
        "5-bit linear",
        "4-bit linear",
        "float16",
        "uint8 affine (TF.js)",
        "uint16 affine (TF.js)",
      ]),
    );
    expect(labels).toContain("distill probabilities → mlp-small, 10 ep");
    expect(
      attackGrid(ATTACK_FAMILIES, { quick: true, trainLearningRate: 1e-3, victimArch: "mlp" }).length,
    ).toBeLessThan(grid.length / 2);
  });

  it("attacks a CNN victim at its own training rate, distilling into another architecture", () => {
    const grid = attackGrid(ATTACK_FAMILIES, { trainLearningRate: 1e-3, victimArch: "cnn" });
    const labels = grid.map(settingLabel);
    expect(labels).toContain("FTAL lr=0.001 5 ep, 100% data");
    expect(labels).toContain("FTAL lr=0.01×0.5/epoch 5 ep, 100% data");
    for (const s of grid) {
      if (s.family === "fineprune") expect(s.params.learningRate).toBe(1e-3);
      if (s.family === "distill") {
        expect(s.params.arch).not.toBe("cnn");
        expect(s.params.learningRate).toBe(2e-3);
      }
    }
    expect(grid.filter((s) => s.family === "distill")).toHaveLength(2);
  });

  it("summarizes a bank: histogram, largest false match rate, counts at α", () => {
    const m = (matches: number, combined: number) => ({
      arch: "mlp" as const,
      seed: 1,
      epochs: 1,
      dataFraction: 0.5,
      accuracy: 0.9,
      triggerMatches: matches,
      triggers: 100,
      triggerPValue: 0,
      triggerLog10PValue: combined,
      weightBitErrors: 30,
      weightBits: 64,
      weightLog10PValue: -0.3,
      combinedLog10PValue: combined,
    });
    const s = summarizeNullBank([m(9, -0.1), m(12, -0.5), m(30, -7)], ["mlp"], 10);
    expect(s.triggerMatchHistogram).toEqual({ "9": 1, "12": 1, "30": 1 });
    expect(s.maxFalseMatchRate).toBe(0.3);
    expect(s.atAlpha).toEqual({ "1e-6": 1, "1e-3": 1 });
    expect(s.expectedMatchRate).toBe(0.1);
  });
});
