import { join } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import {
  carrierOf,
  countBitErrors,
  deriveMessage,
  deriveProjection,
  extractBits,
} from "../../src/core/watermark/weight-mark.js";
import { createAdam } from "../../src/model/adam.js";
import { loadTf } from "../../src/model/backend.js";
import { disposeModel } from "../../src/model/dispose-model.js";
import { fileSaveHandler, loadLayersModel } from "../../src/model/fs-io-handler.js";
import { type KernelLayer, kernelVariable, readKernel, resolveKernelLayer } from "../../src/model/layers.js";
import { saveLikeSource } from "../../src/model/save-like-source.js";
import { tempDir } from "../helpers/fixtures.js";
import { buildNestedModel } from "../helpers/nested-model.js";

const seed = new Uint8Array(32).fill(7);
const BITS = 16;

function bitErrors(layer: KernelLayer, projection: Float32Array, message: Uint8Array): number {
  return countBitErrors(extractBits(projection, carrierOf(readKernel(layer), layer.kernel.shape), BITS), message);
}

describe("the weight mark on a nested functional graph", () => {
  it("embeds into a depthwise kernel inside a functional backbone inside a Sequential, and survives saving", async () => {
    const { tf } = await loadTf("wasm");
    const before = tf.memory().numTensors;
    const dir = await tempDir();
    const built = buildNestedModel(tf, 11);
    await built.save(fileSaveHandler(tf, join(dir, "src")));
    disposeModel(built);
    const model = await loadLayersModel(tf, join(dir, "src"));
    const carrier = resolveKernelLayer(model, "dw", "nested");
    expect(carrier.path).toBe("backbone/dw");
    const m = carrier.kernel.carrierLength;
    expect(m).toBe(3 * 3 * 8);
    const projection = deriveProjection(seed, BITS, m);
    const message = deriveMessage(seed, BITS);
    const initialErrors = bitErrors(carrier, projection, message);
    expect(initialErrors).toBeGreaterThan(0);

    // embed.ts's loss: task cross-entropy plus λ·BCE(sigmoid(X·w̄), b), w̄ = kernel summed over its last axis,
    // minimised over every trainable weight, so the mark's gradient must reach the nested kernel variable
    const X = tf.tensor2d(projection, [BITS, m]);
    const b = tf.tensor1d(Float32Array.from(message));
    const x = tf.randomUniform([16, 12, 12, 3], 0, 1, "float32", 3);
    const y = tf.tidy(() => tf.oneHot(tf.randomUniform([16], 0, 3, "int32", 4), 3));
    const optimizer = createAdam(tf, 1e-2);
    const vars = model.trainableWeights.map((w) => w.read() as tfTypes.Variable);
    expect(vars).toContain(kernelVariable(carrier));
    const start = readKernel(carrier);
    for (let step = 0; step < 25; step++) {
      tf.tidy(() => {
        optimizer.minimize(
          () => {
            const pred = model.apply(x, { training: true }) as tfTypes.Tensor;
            const ce = tf.metrics.categoricalCrossentropy(y, pred).mean();
            const w = kernelVariable(carrier).sum(-1).reshape([m, 1]);
            const logits = tf.matMul(X, w).reshape([BITS]);
            return ce.add(tf.losses.sigmoidCrossEntropy(b, logits)) as tfTypes.Scalar;
          },
          false,
          vars,
        );
      });
    }
    expect(readKernel(carrier)).not.toEqual(start);
    expect(bitErrors(carrier, projection, message)).toBe(0);

    await saveLikeSource(model, join(dir, "src"), join(dir, "marked"));
    const reloaded = await loadLayersModel(tf, join(dir, "marked"));
    expect(bitErrors(resolveKernelLayer(reloaded, "backbone/dw", "marked"), projection, message)).toBe(0);
    optimizer.dispose();
    tf.dispose([X, b, x, y]);
    disposeModel(model);
    disposeModel(reloaded);
    expect(tf.memory().numTensors).toBe(before);
  });
});
