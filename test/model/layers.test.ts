import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { type LoadedTf, loadTf } from "../../src/model/backend.js";
import { disposeModel } from "../../src/model/dispose-model.js";
import { fileSaveHandler, loadLayersModel, readWeightBytes } from "../../src/model/fs-io-handler.js";
import {
  kernelLayers,
  kernelVariable,
  listLayers,
  readKernel,
  resolveKernelLayer,
  resolveLayer,
  writeKernel,
} from "../../src/model/layers.js";
import { findCarrier } from "../../src/watermark/compat.js";
import { tempDir } from "../helpers/fixtures.js";
import { buildNestedModel, TM_IMAGE_MODEL, TM_TINY_MODEL } from "../helpers/nested-model.js";

let L: LoadedTf;
let tm: tfTypes.LayersModel;
beforeAll(async () => {
  L = await loadTf("wasm");
  tm = await loadLayersModel(L.tf, TM_IMAGE_MODEL);
});

const containers = (m: tfTypes.LayersModel) =>
  listLayers(m)
    .filter((l) => l.container)
    .map((l) => l.path);

describe("layer paths in nested models", () => {
  it("names the Teachable Machine model's nameless Sequentials the same on every load", async () => {
    const { tf } = L;
    const expected = ["sequential_2", "sequential_2/mobilenetv2_0.35_224", "sequential_3"];
    expect(containers(tm)).toEqual(expected);
    // TF.js alone names them from a process-wide counter: a second plain load gets other names.
    const w = await readWeightBytes(TM_IMAGE_MODEL);
    const plain = async () =>
      tf.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: w.loc.modelJson?.modelTopology as object,
          weightSpecs: w.specs as tfTypes.io.WeightsManifestEntry[],
          weightData: w.data,
        }),
      );
    const [p1, p2] = [await plain(), await plain()];
    expect(p1.layers.map((l) => l.name)).not.toEqual(p2.layers.map((l) => l.name));
    disposeModel(p1);
    disposeModel(p2);
    const again = await loadLayersModel(tf, TM_IMAGE_MODEL);
    expect(containers(again)).toEqual(expected);
    disposeModel(again);
  });

  it("keeps names the file gives (the tiny export names its Sequentials)", async () => {
    const tiny = await loadLayersModel(L.tf, TM_TINY_MODEL);
    expect(containers(tiny)).toEqual(["sequential_1", "sequential_1/model1", "sequential_3"]);
    disposeModel(tiny);
  });

  it("lists every kernel of the stored model, with depthwise kernels as [h, w, in, multiplier]", async () => {
    const json = JSON.parse(await readFile(join(TM_IMAGE_MODEL, "model.json"), "utf8"));
    const stored = json.weightsManifest
      .flatMap((g: { weights: { name: string }[] }) => g.weights.map((w) => w.name))
      .filter((n: string) => /\/(depthwise_)?kernel$/.test(n));
    const kernels = kernelLayers(tm);
    expect(kernels.map((l) => l.kernel.weightName).sort()).toEqual([...stored].sort());
    const dw = kernels.find((l) => l.name === "expanded_conv_depthwise");
    expect(dw?.path).toBe("sequential_2/mobilenetv2_0.35_224/expanded_conv_depthwise");
    expect(dw?.kernel).toMatchObject({
      shape: [3, 3, 16, 1],
      axes: ["h", "w", "in", "multiplier"],
      carrierLength: 144,
    });
    const dense = kernels.find((l) => l.name === "dense_Dense1");
    expect(dense?.kernel).toMatchObject({ shape: [1280, 100], axes: ["in", "out"], carrierLength: 1280 });
    expect(kernels.every((l) => l.trainable)).toBe(true);
  });

  it("resolves a layer by full path, by short name, or by a tail of its path", () => {
    expect(resolveLayer(tm, "sequential_3/dense_Dense1", "tm").name).toBe("dense_Dense1");
    expect(resolveLayer(tm, "dense_Dense1", "tm").path).toBe("sequential_3/dense_Dense1");
    expect(resolveLayer(tm, "mobilenetv2_0.35_224/Conv1", "tm").path).toBe("sequential_2/mobilenetv2_0.35_224/Conv1");
    expect(resolveLayer(tm, "sequential_3", "tm").container).toBe(true);
    // the key's layer, which embed used to refuse (it looked at the top level only)
    const carrier = findCarrier(tm, "dense_Dense1", 256, "tm");
    expect(carrier).toMatchObject({ layer: "sequential_3/dense_Dense1", shape: [1280, 100], length: 1280 });
  });

  it("refuses an unknown layer, listing the kernel layers by full path", () => {
    expect(() => resolveLayer(tm, "dense_Dense9", "tm")).toThrow(
      expect.objectContaining({
        code: "LAYER_NOT_FOUND",
        message: 'tm has no layer "dense_Dense9"',
        hints: expect.arrayContaining([expect.stringContaining("sequential_3/dense_Dense1 [1280,100]")]),
      }),
    );
    // a tail must end at a segment boundary
    expect(() => resolveLayer(tm, "Dense1", "tm")).toThrow(expect.objectContaining({ code: "LAYER_NOT_FOUND" }));
  });

  it("refuses a kernel-less layer as a carrier", () => {
    expect(() => resolveKernelLayer(tm, "global_average_pooling2d_GlobalAveragePooling2D1", "tm")).toThrow(
      expect.objectContaining({ code: "LAYER_NOT_FOUND", message: expect.stringContaining("GlobalAveragePooling2D") }),
    );
  });

  it("refuses a short name that two nested models share, listing both paths", () => {
    const { tf } = L;
    const part = (name: string) =>
      tf.sequential({ name, layers: [tf.layers.dense({ inputShape: [4], units: 4, name: "d" })] });
    const model = tf.sequential({ layers: [part("a"), part("b")] });
    expect(() => resolveLayer(model, "d", "twins")).toThrow(
      expect.objectContaining({ code: "LAYER_AMBIGUOUS", message: expect.stringContaining("a/d, b/d") }),
    );
    expect(resolveLayer(model, "b/d", "twins").path).toBe("b/d");
    disposeModel(model);
  });
});

describe("reading and writing kernels of nested functional models", () => {
  it("writes a nested depthwise kernel that predictions and a reload see, leaking no tensor", async () => {
    const { tf } = L;
    const before = tf.memory().numTensors;
    const model = buildNestedModel(tf, 5);
    expect(containers(model)).toEqual(["backbone", "head"]);
    const dw = resolveKernelLayer(model, "dw", "nested");
    expect(dw.path).toBe("backbone/dw");
    expect(dw.kernel.shape).toEqual([3, 3, 8, 1]);
    const x = tf.randomUniform([2, 12, 12, 3], 0, 1, "float32", 9);
    const predict = (m: tfTypes.LayersModel) => tf.tidy(() => Array.from((m.predict(x) as tfTypes.Tensor).dataSync()));
    const original = predict(model);
    const next = readKernel(dw).map((v, i) => v * -1.5 + (i % 7) * 0.01);
    writeKernel(tf, dw, next);
    expect(readKernel(dw)).toEqual(next);
    expect(predict(model)).not.toEqual(original);
    const dir = join(await tempDir(), "nested");
    await model.save(fileSaveHandler(tf, dir));
    const loaded = await loadLayersModel(tf, dir);
    expect(readKernel(resolveKernelLayer(loaded, "backbone/dw", dir))).toEqual(next);
    expect(predict(loaded)).toEqual(predict(model));
    // the variable the layer computes with is the one kernelVariable gives an optimizer
    expect(kernelVariable(dw)).toBe(dw.layer.weights.find((w) => w.originalName === "dw/depthwise_kernel")?.read());
    tf.dispose(x);
    disposeModel(model);
    disposeModel(loaded);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("refuses a kernel of the wrong size or with non-finite values, leaving the kernel as it was", () => {
    const { tf } = L;
    const model = buildNestedModel(tf, 6);
    const dense = resolveKernelLayer(model, "features", "nested");
    const kept = readKernel(dense);
    expect(() => writeKernel(tf, dense, new Float32Array(kept.length - 1))).toThrow(
      expect.objectContaining({ code: "INTERNAL", message: expect.stringContaining("[16,32]") }),
    );
    const bad = kept.slice();
    bad[3] = Number.NaN;
    expect(() => writeKernel(tf, dense, bad)).toThrow(expect.objectContaining({ code: "MODEL_WEIGHTS_NONFINITE" }));
    expect(readKernel(dense)).toEqual(kept);
    disposeModel(model);
  });

  it("disposes every weight of a nested model, which TF.js's own dispose() does not", () => {
    const { tf } = L;
    const before = tf.memory().numTensors;
    const leaky = buildNestedModel(tf, 7);
    const head = resolveLayer(leaky, "head", "nested").layer.weights.length;
    leaky.dispose();
    const left = tf.memory().numTensors - before;
    expect(left).toBe(head);
    const model = buildNestedModel(tf, 7);
    disposeModel(model);
    expect(tf.memory().numTensors - before).toBe(left);
  });
});
