import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AugmentOptions,
  augmentImage,
  DEFAULT_AUGMENTATION,
  type ImageShape,
  NO_AUGMENTATION,
} from "../../../src/core/input/augment.js";
import { createRng } from "../../../src/core/rng.js";

const shapeArb = fc.record({
  height: fc.integer({ min: 1, max: 12 }),
  width: fc.integer({ min: 1, max: 12 }),
  channels: fc.constantFrom(1 as const, 3 as const),
});
const imageArb = shapeArb.chain((shape) =>
  fc
    .uint8Array({
      minLength: shape.height * shape.width * shape.channels,
      maxLength: shape.height * shape.width * shape.channels,
    })
    .map((pixels) => ({ shape, pixels })),
);
const optionsArb: fc.Arbitrary<AugmentOptions> = fc.record({
  crop: fc.double({ min: 0, max: 0.9, noNaN: true }),
  flip: fc.double({ min: 0, max: 1, noNaN: true }),
  brightness: fc.double({ min: 0, max: 1, noNaN: true }),
  contrast: fc.double({ min: 0, max: 1, noNaN: true }),
  saturation: fc.double({ min: 0, max: 1, noNaN: true }),
});
const only = (o: Partial<AugmentOptions>): AugmentOptions => ({ ...NO_AUGMENTATION, ...o });
const run = (pixels: Uint8Array, shape: ImageShape, o: AugmentOptions, seed: number) =>
  augmentImage(pixels, shape, o, createRng(seed, "augment-test"));

describe("augmentImage", () => {
  it("keeps the shape, leaves the source alone, and is the same for the same seed", () => {
    fc.assert(
      fc.property(imageArb, optionsArb, fc.integer(), ({ shape, pixels }, o, seed) => {
        const before = Uint8Array.from(pixels);
        const a = run(pixels, shape, o, seed);
        expect(a.length).toBe(pixels.length);
        expect(pixels).toEqual(before);
        expect(run(pixels, shape, o, seed)).toEqual(a);
      }),
    );
  });

  it("is the identity at zero strength, for any image and seed", () => {
    fc.assert(
      fc.property(imageArb, fc.integer(), ({ shape, pixels }, seed) => {
        expect(run(pixels, shape, NO_AUGMENTATION, seed)).toEqual(pixels);
      }),
    );
  });

  it("draws the same numbers whatever the strengths: a stream stays aligned across images", () => {
    const shape: ImageShape = { height: 4, width: 5, channels: 3 };
    const pixels = Uint8Array.from({ length: 60 }, (_, i) => (i * 37) % 256);
    const rng = createRng(9, "stream");
    augmentImage(pixels, shape, DEFAULT_AUGMENTATION, rng);
    const second = augmentImage(pixels, shape, DEFAULT_AUGMENTATION, rng);
    const other = createRng(9, "stream");
    augmentImage(pixels, shape, NO_AUGMENTATION, other);
    expect(augmentImage(pixels, shape, DEFAULT_AUGMENTATION, other)).toEqual(second);
    // gray images draw the (unused) saturation too
    const gray: ImageShape = { ...shape, channels: 1 };
    const g = pixels.subarray(0, 20);
    const [a, b] = [createRng(4, "gray"), createRng(4, "gray")];
    augmentImage(g, gray, DEFAULT_AUGMENTATION, a);
    augmentImage(g, gray, NO_AUGMENTATION, b);
    expect(augmentImage(g, gray, DEFAULT_AUGMENTATION, a)).toEqual(augmentImage(g, gray, DEFAULT_AUGMENTATION, b));
    const [p, q] = [createRng(5, "count"), createRng(5, "count")];
    augmentImage(g, gray, DEFAULT_AUGMENTATION, p);
    augmentImage(pixels, shape, DEFAULT_AUGMENTATION, q);
    expect(p.next()).toBe(q.next());
  });

  it("varies with the seed", () => {
    const shape: ImageShape = { height: 16, width: 16, channels: 3 };
    const pixels = Uint8Array.from({ length: 768 }, (_, i) => (i * 7919) % 256);
    const outs = new Set(
      Array.from({ length: 20 }, (_, seed) => run(pixels, shape, DEFAULT_AUGMENTATION, seed).join()),
    );
    expect(outs.size).toBeGreaterThanOrEqual(19);
  });

  it("flip mirrors each row exactly; twice is the identity", () => {
    fc.assert(
      fc.property(imageArb, fc.integer(), ({ shape, pixels }, seed) => {
        const { height: h, width: w, channels: c } = shape;
        const once = run(pixels, shape, only({ flip: 1 }), seed);
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            for (let ch = 0; ch < c; ch++)
              expect(once[(y * w + x) * c + ch]).toBe(pixels[(y * w + w - 1 - x) * c + ch]);
          }
        }
        expect(run(once, shape, only({ flip: 1 }), seed + 1)).toEqual(pixels);
      }),
    );
  });

  it("crops only between the source's own values, and does move pixels", () => {
    fc.assert(
      fc.property(imageArb, fc.integer(), ({ shape, pixels }, seed) => {
        const out = run(pixels, shape, only({ crop: 0.9 }), seed);
        const lo = Math.min(...pixels);
        const hi = Math.max(...pixels);
        for (const v of out) expect(v >= lo && v <= hi).toBe(true);
      }),
    );
    const shape: ImageShape = { height: 32, width: 32, channels: 1 };
    const ramp = Uint8Array.from({ length: 1024 }, (_, i) => (i % 32) * 8);
    expect(run(ramp, shape, only({ crop: 0.5 }), 1)).not.toEqual(ramp);
  });

  it("brightness is one monotone map of the byte values; saturation leaves neutral grays alone", () => {
    fc.assert(
      fc.property(imageArb, fc.integer(), ({ shape, pixels }, seed) => {
        const out = run(pixels, shape, only({ brightness: 1 }), seed);
        const map = new Map<number, number>();
        pixels.forEach((v, i) => {
          expect(map.get(v) ?? out[i]).toBe(out[i]);
          map.set(v, out[i] as number);
        });
        const levels = [...map.entries()].sort((a, b) => a[0] - b[0]).map(([, o]) => o);
        expect(levels).toEqual([...levels].sort((a, b) => a - b));
        const c = shape.channels;
        const gray = Uint8Array.from(
          { length: shape.height * shape.width * 3 },
          (_, i) => pixels[Math.floor(i / 3) * c] as number,
        );
        const neutral: ImageShape = { ...shape, channels: 3 };
        expect(run(gray, neutral, only({ saturation: 1 }), seed)).toEqual(gray);
      }),
    );
  });

  it("contrast keeps the mean gray of mid-tone images and changes their spread", () => {
    const shape: ImageShape = { height: 20, width: 20, channels: 3 };
    const rng = createRng(3, "mid");
    const pixels = Uint8Array.from({ length: 1200 }, () => 64 + rng.int(129));
    const mean = (p: Uint8Array) => p.reduce((a, v) => a + v, 0) / p.length;
    const spread = (p: Uint8Array) => Math.max(...p) - Math.min(...p);
    let changed = 0;
    for (let seed = 0; seed < 10; seed++) {
      const out = run(pixels, shape, only({ contrast: 0.5 }), seed);
      expect(Math.abs(mean(out) - mean(pixels))).toBeLessThan(1);
      if (spread(out) !== spread(pixels)) changed++;
    }
    expect(changed).toBeGreaterThanOrEqual(8);
  });

  it("contrast leaves a flat image flat: only the brightness drawn with it shows", () => {
    fc.assert(
      fc.property(shapeArb, fc.integer({ min: 0, max: 255 }), fc.integer(), (shape, v, seed) => {
        const flat = new Uint8Array(shape.height * shape.width * shape.channels).fill(v);
        for (const crop of [0, 0.3]) {
          const both = run(flat, shape, only({ crop, brightness: 0.5, contrast: 1 }), seed);
          expect(both).toEqual(run(flat, shape, only({ crop, brightness: 0.5 }), seed));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("refuses strengths out of range, wrong lengths, and writing over the source", () => {
    const shape: ImageShape = { height: 2, width: 2, channels: 1 };
    const px = new Uint8Array(4);
    const rng = createRng(1);
    for (const [bad, name] of [
      [{ crop: 0.95 }, "crop"],
      [{ flip: -0.1 }, "flip"],
      [{ brightness: Number.NaN }, "brightness"],
      [{ saturation: 2 }, "saturation"],
    ] as const) {
      expect(() => augmentImage(px, shape, only(bad), rng)).toThrow(
        expect.objectContaining({ code: "USAGE", subject: `augmentation.${name}` }),
      );
    }
    expect(() => augmentImage(new Uint8Array(5), shape, NO_AUGMENTATION, rng)).toThrow(RangeError);
    expect(() => augmentImage(px, shape, NO_AUGMENTATION, rng, new Uint8Array(3))).toThrow(RangeError);
    expect(() => augmentImage(px, shape, NO_AUGMENTATION, rng, px)).toThrow(/cannot write over its source/);
  });
});
