import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  fromModelInput,
  type ImageInput,
  PREPROCESS_PRESETS,
  type PreprocessPreset,
  toModelInput,
} from "../../../src/core/input/model-io.js";

const spec = (preset: PreprocessPreset, channels: 1 | 3, h: number, w: number): ImageInput => {
  const p = PREPROCESS_PRESETS[preset];
  const order = channels === 1 ? "gray" : "channelOrder" in p ? p.channelOrder : "rgb";
  return {
    kind: "image",
    height: h,
    width: w,
    channels,
    channelOrder: order,
    preprocess: p.preprocess,
    resize: { mode: "stretch", filter: "bilinear" },
  } as ImageInput;
};

const presets = Object.keys(PREPROCESS_PRESETS) as PreprocessPreset[];

describe("fromModelInput", () => {
  it("inverts toModelInput exactly for every preset, channel count and byte image", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...presets),
        fc.constantFrom(1 as const, 3 as const),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        (preset, channels, h, w) => {
          const s = spec(preset, channels, h, w);
          const n = h * w * channels;
          const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 97 + h * 13 + w) % 256);
          expect(Array.from(fromModelInput(s, toModelInput(s, bytes)))).toEqual(Array.from(bytes));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("round-trips arbitrary bytes (property), BGR included", () => {
    const s = spec("caffe", 3, 2, 2);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 12, maxLength: 12 }), (bytes) => {
        expect(Array.from(fromModelInput(s, toModelInput(s, bytes)))).toEqual(Array.from(bytes));
      }),
    );
  });

  it("moves other rows to the nearest byte image: rounded, clamped, NaN to 0", () => {
    const s = spec("pixel/255", 1, 1, 6);
    const row = Float32Array.from([-0.5, 1.7, 0.5 / 255, 2.49 / 255, Number.NaN, Number.POSITIVE_INFINITY]);
    expect(Array.from(fromModelInput(s, row))).toEqual([0, 255, 1, 2, 0, 255]);
    expect(() => fromModelInput(s, new Float32Array(5))).toThrow(/5 values/);
  });
});
