import { describe, expect, it } from "vitest";
import { legacyModelIO } from "../../src/core/input/model-io.js";
import { finetuneAttackInPlace } from "../../src/lab/finetune.js";
import { isKernel, lastKernelLayer, trainOnly } from "../../src/lab/model-ops.js";
import { loadTf } from "../../src/model/backend.js";
import type { ImageDataset } from "../../src/model/datasets/dataset.js";
import { disposeModel } from "../../src/model/dispose-model.js";
import { readKernel, resolveKernelLayer } from "../../src/model/layers.js";
import { buildNestedModel } from "../helpers/nested-model.js";

describe("lab attacks on nested models", () => {
  it("finds the classifier head inside a nested Sequential and trains only it (FTLL)", async () => {
    const { tf } = await loadTf("wasm");
    const before = tf.memory().numTensors;
    const model = buildNestedModel(tf, 4);
    const head = lastKernelLayer(model);
    expect(head.name).toBe("logits");
    const restore = trainOnly(model, head);
    expect(model.trainableWeights.map((w) => w.originalName)).toEqual(["logits/kernel", "logits/bias"]);
    restore();
    expect(model.trainableWeights.length).toBe(model.weights.filter((w) => w.trainable).length);
    expect(model.weights.filter(isKernel).map((w) => w.originalName)).toContain("dw/depthwise_kernel");

    const n = 24;
    const px = 12 * 12 * 3;
    const split = (seed: number) => {
      const pixels = Uint8Array.from({ length: n * px }, (_, i) => (i * 2654435761 + seed) % 256);
      return {
        x: Float32Array.from(pixels, (p) => p / 255),
        pixels,
        y: Uint16Array.from({ length: n }, (_, i) => i % 3),
        count: n,
      };
    };
    const data = {
      kind: "image",
      io: legacyModelIO([12, 12, 3], 3),
      labelled: true,
      name: "toy",
      inputShape: [12, 12, 3],
      numClasses: 3,
      train: split(1),
      test: split(2),
      splitNote: "",
    } as ImageDataset;
    const k = (name: string) => readKernel(resolveKernelLayer(model, name, "nested"));
    const [logits, features] = [k("logits"), k("features")];
    await finetuneAttackInPlace(
      tf,
      model,
      data,
      { mode: "FTLL", epochs: 1, learningRate: 1e-2, lrDecay: 1, dataFraction: 1, batchSize: 8 },
      3,
    );
    expect(k("logits")).not.toEqual(logits);
    expect(k("features")).toEqual(features);
    disposeModel(model);
    expect(tf.memory().numTensors).toBe(before);
  });
});
