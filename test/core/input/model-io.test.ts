import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ImageInput,
  inputShape,
  inputSize,
  isPreprocessPreset,
  legacyModelIO,
  modelIOSchema,
  PREPROCESS_PRESETS,
  toModelInput,
} from "../../../src/core/input/model-io.js";

const rgb = (preset: keyof typeof PREPROCESS_PRESETS, channelOrder: "rgb" | "bgr" = "rgb"): ImageInput => ({
  kind: "image",
  height: 1,
  width: 2,
  channels: 3,
  channelOrder,
  preprocess: PREPROCESS_PRESETS[preset].preprocess as ImageInput["preprocess"],
  resize: { mode: "center-crop", filter: "bilinear" },
});

describe("toModelInput", () => {
  it("applies Teachable Machine's pixel/127 - 1 (not 127.5): 0 → -1, 127 → 0, 254 → 1", () => {
    const out = toModelInput(rgb("pixel/127-1"), Uint8Array.from([0, 127, 254, 255, 0, 127]));
    expect([...out].map((v) => Number(v.toFixed(6)))).toEqual([-1, 0, 1, 1.007874, -1, 0]);
  });

  it("Keras caffe: swaps RGB to BGR, then subtracts the ImageNet mean in BGR order", () => {
    const out = toModelInput(rgb("caffe", "bgr"), Uint8Array.from([10, 20, 30, 200, 100, 0]));
    const expected = [30 - 103.939, 20 - 116.779, 10 - 123.68, 0 - 103.939, 100 - 116.779, 200 - 123.68];
    expect([...out].map((v) => Number(v.toFixed(3)))).toEqual(expected.map((v) => Number(v.toFixed(3))));
  });

  it("torch: ImageNet mean and std per RGB channel", () => {
    const out = toModelInput(rgb("torch"), Uint8Array.from([255, 255, 255, 0, 0, 0]));
    expect(out[0]).toBeCloseTo((1 - 0.485) / 0.229, 5);
    expect(out[5]).toBeCloseTo(-0.406 / 0.225, 5);
  });

  it("pixel/255 stays inside [0, 1] for any bytes, and rejects an input of the wrong size", () => {
    const spec = legacyModelIO([2, 2, 1], 10).input;
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (px) => {
        const out = toModelInput(spec, px);
        return out.every((v, i) => v >= 0 && v <= 1 && Math.abs(v - (px[i] as number) / 255) < 1e-7);
      }),
    );
    expect(() => toModelInput(spec, new Uint8Array(5))).toThrow(/5 values, the model takes 4/);
  });

  it("copies vector inputs unchanged", () => {
    const spec = {
      kind: "vector",
      features: 2,
      ranges: [
        [0, 1],
        [-5, 5],
      ],
    } as const;
    expect([
      ...toModelInput(
        {
          ...spec,
          ranges: [
            [0, 1],
            [-5, 5],
          ],
        },
        Float32Array.from([0.5, -3]),
      ),
    ]).toEqual([0.5, -3]);
  });
});

describe("modelIOSchema", () => {
  const io = legacyModelIO([224, 224, 3], 2);

  it("accepts the legacy and a Teachable Machine description", () => {
    expect(modelIOSchema.safeParse(io).success).toBe(true);
    const tm = { ...io, input: { ...io.input, preprocess: PREPROCESS_PRESETS["pixel/127-1"].preprocess } };
    expect(modelIOSchema.safeParse({ ...tm, classes: { count: 2, names: ["Class 1", "Class 2"] } }).success).toBe(true);
  });

  it("rejects what would make triggers or the null wrong: name count, repeated names, channel order, mean length, ranges", () => {
    const bad = (v: unknown) => modelIOSchema.safeParse(v).error?.issues.map((i) => i.message) ?? [];
    expect(bad({ ...io, classes: { count: 2, names: ["a"] } })).toEqual(["1 class names for 2 classes"]);
    expect(bad({ ...io, classes: { count: 2, names: ["a", "a"] } })).toEqual(["class names repeat"]);
    expect(bad({ ...io, input: { ...io.input, channelOrder: "gray" } })).toEqual([
      "channelOrder gray does not fit 3 channel(s)",
    ]);
    expect(bad({ ...io, input: { ...io.input, preprocess: { type: "mean-std", mean: [1, 2], std: [1] } } })).toEqual([
      "preprocess.mean has 2 values for 3 channel(s)",
    ]);
    expect(bad({ ...io, input: { kind: "vector", features: 2, ranges: [[1, 0]] } })).toEqual([
      "ranges has 1 entries for 2 features",
      "ranges[0] has min 1 above max 0",
    ]);
  });

  it("knows the presets by name and gives shapes and sizes", () => {
    expect(isPreprocessPreset("caffe")).toBe(true);
    expect(isPreprocessPreset("toString")).toBe(false);
    expect(inputShape(io.input)).toEqual([224, 224, 3]);
    expect(inputSize(io.input)).toBe(224 * 224 * 3);
  });
});
