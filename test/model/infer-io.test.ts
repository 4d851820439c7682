import { cp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { modelIOSchema, PREPROCESS_PRESETS } from "../../src/core/input/model-io.js";
import { type LoadedTf, loadTf } from "../../src/model/backend.js";
import { disposeModel } from "../../src/model/dispose-model.js";
import { fileSaveHandler } from "../../src/model/fs-io-handler.js";
import { describeModelIO, inferModelIO, type ModelIOOverrides } from "../../src/model/infer-io.js";
import { tempDir } from "../helpers/fixtures.js";
import { TM_IMAGE_MODEL, TM_TINY_MODEL } from "../helpers/nested-model.js";

let L: LoadedTf;
let root: string;
beforeAll(async () => {
  L = await loadTf("wasm");
  root = await tempDir();
});

/** A copy of the Teachable Machine export with metadata.json replaced (or removed with null). */
async function tmCopy(name: string, metadata: string | null): Promise<string> {
  const dir = join(root, name);
  await cp(TM_IMAGE_MODEL, dir, { recursive: true });
  if (metadata === null) await rm(join(dir, "metadata.json"));
  else await writeFile(join(dir, "metadata.json"), metadata);
  return dir;
}

/** describeModelIO on an in-memory model (no metadata.json), disposing it. */
function describe_(build: (tf: LoadedTf["tf"]) => tfTypes.LayersModel, overrides: ModelIOOverrides = {}) {
  const model = build(L.tf);
  try {
    return describeModelIO(model, { metadata: undefined, overrides, modelPath: "m" });
  } finally {
    disposeModel(model);
  }
}

const imageModel =
  (shape: (number | null)[], units = 3, activation: "softmax" | "sigmoid" = "softmax") =>
  (tf: LoadedTf["tf"]) =>
    tf.sequential({
      layers: [
        tf.layers.conv2d({ batchInputShape: [null, ...shape], filters: 2, kernelSize: 1 }),
        tf.layers.globalAveragePooling2d({}),
        tf.layers.dense({ units, activation }),
      ],
    });

describe("inferring a model's inputs and classes", () => {
  it("recognises the Teachable Machine image export: 224×224 RGB, pixel/127-1, centre crop, its labels", async () => {
    const { tf } = L;
    const before = tf.memory().numTensors;
    const { io, reasons } = await inferModelIO(TM_IMAGE_MODEL, {}, { backend: "wasm" });
    expect(tf.memory().numTensors).toBe(before);
    expect(modelIOSchema.parse(io)).toEqual(io);
    expect(io).toEqual({
      input: {
        kind: "image",
        height: 224,
        width: 224,
        channels: 3,
        channelOrder: "rgb",
        preprocess: PREPROCESS_PRESETS["pixel/127-1"].preprocess,
        resize: { mode: "center-crop", filter: "bilinear" },
      },
      classes: { count: 2, names: ["Class 1", "Class 2"] },
    });
    expect(reasons.join(" ")).toContain("marks a Teachable Machine image export");
    expect(reasons.join(" ")).toContain("output layer sequential_3/dense_Dense2 (softmax)");
  });

  it("reads the tiny export as grayscale with Teachable Machine's gray formula", async () => {
    const { io, reasons } = await inferModelIO(TM_TINY_MODEL, {}, { backend: "wasm" });
    expect(io.input).toMatchObject({ kind: "image", height: 96, width: 96, channels: 1, channelOrder: "gray" });
    expect(reasons.join(" ")).toContain("0.2989 R + 0.5870 G + 0.1140 B");
  });

  it("takes class names and a preset from the user, and says when they contradict the export", async () => {
    const { io, reasons } = await inferModelIO(TM_IMAGE_MODEL, {
      classNames: ["cat", "dog"],
      preprocess: "pixel/255",
      resize: "stretch",
    });
    expect(io.classes.names).toEqual(["cat", "dog"]);
    expect(io.input).toMatchObject({ preprocess: { scale: 1 / 255, offset: 0 }, resize: { mode: "stretch" } });
    expect(reasons.join(" ")).toContain("whose own preprocessing is pixel/127-1");
    expect(reasons.join(" ")).toContain("replacing metadata.json's");
  });

  it("refuses class names that do not fit the output", async () => {
    for (const names of [["a"], ["a", "b", "c"], ["a", "a"], ["a", " "]]) {
      await expect(inferModelIO(TM_IMAGE_MODEL, { classNames: names })).rejects.toMatchObject({
        code: "CLASS_NAMES_INVALID",
        subject: "--class-names",
      });
    }
    const three = await tmCopy("three-labels", JSON.stringify({ tfjsVersion: "1.1.2", labels: ["a", "b", "c"] }));
    await expect(inferModelIO(three)).rejects.toMatchObject({
      code: "CLASS_NAMES_INVALID",
      message: expect.stringContaining("3 names for the model's 2 classes"),
    });
  });

  it("refuses a broken metadata.json instead of ignoring it", async () => {
    for (const [name, text, what] of [
      ["bad-json", "{ labels: ", "not valid JSON"],
      ["bad-labels", JSON.stringify({ labels: "Class 1" }), "not a list of strings"],
      ["bad-package", JSON.stringify({ packageName: 3, labels: [] }), "non-string packageName"],
    ] as const) {
      await expect(inferModelIO(await tmCopy(name, text))).rejects.toMatchObject({
        code: "MODEL_METADATA_INVALID",
        message: expect.stringContaining(what),
      });
    }
  });

  it("never guesses the preprocessing: without the export's metadata a preset is required", async () => {
    const bare = await tmCopy("bare", null);
    const err = await inferModelIO(bare).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "PREPROCESS_REQUIRED" });
    const hints = (err as { hints: string[] }).hints.join(" ");
    for (const preset of Object.keys(PREPROCESS_PRESETS)) expect(hints).toContain(`${preset} (`);
    // another exporter's metadata (a packageName that is not Teachable Machine's) is no licence to guess
    const other = await tmCopy("other", JSON.stringify({ packageName: "ml5", tfjsVersion: "1", labels: ["a", "b"] }));
    await expect(inferModelIO(other)).rejects.toMatchObject({ code: "PREPROCESS_REQUIRED" });
    // labels alone do not make an export Teachable Machine's, but its package name does
    const labelsOnly = await tmCopy("labels-only", JSON.stringify({ labels: ["a", "b"] }));
    await expect(inferModelIO(labelsOnly)).rejects.toMatchObject({ code: "PREPROCESS_REQUIRED" });
    const named = await tmCopy("named", JSON.stringify({ packageName: "@teachablemachine/image", labels: ["a", "b"] }));
    expect((await inferModelIO(named)).io.input).toMatchObject({ preprocess: { scale: 1 / 127, offset: -1 } });
    const { io, reasons } = await inferModelIO(bare, { preprocess: "pixel/127.5-1" });
    expect(io.input).toMatchObject({ preprocess: { scale: 1 / 127.5, offset: -1 }, resize: { mode: "stretch" } });
    expect(io.classes.names).toBeUndefined();
    expect(reasons.join(" ")).toContain("classes are numbered 0-1");
  });

  it("refuses an unknown preset, and a colour preset for a grayscale model", async () => {
    await expect(inferModelIO(TM_IMAGE_MODEL, { preprocess: "pixel/256" })).rejects.toMatchObject({
      code: "USAGE",
      subject: "--preprocess",
      hints: [expect.stringContaining("caffe (")],
    });
    await expect(inferModelIO(TM_TINY_MODEL, { preprocess: "caffe" })).rejects.toMatchObject({
      code: "USAGE",
      message: expect.stringContaining("takes grayscale"),
    });
  });

  it("reads a Keras Rescaling layer as the model scaling itself: raw pixels on the wire", async () => {
    const { tf } = L;
    const dir = join(root, "rescaling");
    const model = tf.sequential({
      layers: [
        tf.layers.rescaling({ inputShape: [8, 8, 3], scale: 1 / 127.5, offset: -1, name: "rescale" }),
        tf.layers.flatten({}),
        tf.layers.dense({ units: 4, activation: "softmax" }),
      ],
    });
    await model.save(fileSaveHandler(tf, dir));
    disposeModel(model);
    const { io, reasons } = await inferModelIO(dir);
    expect(io.input).toMatchObject({ preprocess: PREPROCESS_PRESETS.raw.preprocess });
    expect(reasons.join(" ")).toContain("starts with Rescaling(scale 0.00784313725490196, offset -1) at rescale");
    const twice = await inferModelIO(dir, { preprocess: "pixel/255" });
    expect(twice.reasons.join(" ")).toContain("pixel/255 scales it a second time");
  });

  it("refuses inputs it cannot describe, naming the unknown dimensions", () => {
    expect(() => describe_(imageModel([null, null, 3]))).toThrow(
      expect.objectContaining({
        code: "MODEL_INPUT_UNSUPPORTED",
        message: expect.stringContaining("height and width"),
      }),
    );
    expect(() => describe_(imageModel([8, 8, 4]), { preprocess: "raw" })).toThrow(
      expect.objectContaining({ code: "MODEL_INPUT_UNSUPPORTED", message: "m takes images with 4 channels" }),
    );
    const rank2 = (tf: LoadedTf["tf"]) =>
      tf.sequential({ layers: [tf.layers.flatten({ inputShape: [8, 8] }), tf.layers.dense({ units: 3 })] });
    expect(() => describe_(rank2)).toThrow(
      expect.objectContaining({ code: "MODEL_INPUT_UNSUPPORTED", message: expect.stringContaining("[8, 8]") }),
    );
    const twoInputs = (tf: LoadedTf["tf"]) => {
      const a = tf.input({ shape: [3] });
      const b = tf.input({ shape: [3] });
      const sum = tf.layers.add().apply([a, b]) as tfTypes.SymbolicTensor;
      return tf.model({ inputs: [a, b], outputs: tf.layers.dense({ units: 2 }).apply(sum) as tfTypes.SymbolicTensor });
    };
    expect(() => describe_(twoInputs)).toThrow(expect.objectContaining({ message: "m has 2 inputs" }));
  });

  it("refuses outputs that are not class scores, and notes sigmoid heads", () => {
    expect(() => describe_(imageModel([8, 8, 3], 1, "sigmoid"), { preprocess: "raw" })).toThrow(
      expect.objectContaining({ code: "MODEL_OUTPUT_UNSUPPORTED", message: "m has a single output unit (sigmoid)" }),
    );
    const { io, reasons } = describe_(imageModel([8, 8, 3], 5, "sigmoid"), { preprocess: "raw" });
    expect(io.classes.count).toBe(5);
    expect(reasons.join(" ")).toContain("sigmoid: independent per-class scores");
  });

  it("describes a tabular model as a vector whose ranges must come from data", () => {
    const tabular = (tf: LoadedTf["tf"]) =>
      tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 8 }), tf.layers.dense({ units: 2 })] });
    expect(() => describe_(tabular)).toThrow(
      expect.objectContaining({ code: "VECTOR_RANGES_REQUIRED", hints: [expect.stringContaining("csv:")] }),
    );
    const ranges: [number, number][] = [
      [0, 1],
      [-5, 5],
      [10, 20],
    ];
    const { io } = describe_(tabular, { ranges, featureNames: ["a", "b", "c"], classNames: ["no", "yes"] });
    expect(io).toEqual({
      input: { kind: "vector", features: 3, ranges, featureNames: ["a", "b", "c"] },
      classes: { count: 2, names: ["no", "yes"] },
    });
    expect(() => describe_(tabular, { ranges: ranges.slice(1) })).toThrow(
      expect.objectContaining({
        code: "USAGE",
        message: expect.stringContaining("ranges has 2 entries for 3 features"),
      }),
    );
    expect(() => describe_(tabular, { ranges, preprocess: "pixel/255" })).toThrow(
      expect.objectContaining({ code: "USAGE", subject: "--preprocess" }),
    );
  });
});
