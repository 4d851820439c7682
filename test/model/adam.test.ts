import { beforeAll, describe, expect, it } from "vitest";
import { createRng } from "../../src/core/rng.js";
import { createAdam } from "../../src/model/adam.js";
import { loadTf, type TF } from "../../src/model/backend.js";

let tf: TF;

beforeAll(async () => {
  tf = (await loadTf("wasm")).tf;
});

const SHAPES = [[7], [3, 3, 1, 16], [33, 5], [1], [64]];

/** Runs `steps` Adam updates with seeded gradients (a fresh gradient per step) and returns the weights. */
function train(make: () => import("@tensorflow/tfjs").Optimizer, steps: number, decay: boolean): Float32Array[] {
  const rng = createRng(9, "adam");
  const vars = SHAPES.map((s) =>
    tf.tidy(() =>
      tf.variable(
        tf.tensor(
          Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.next() * 2 - 1),
          s,
        ),
      ),
    ),
  );
  const optimizer = make();
  for (let step = 0; step < steps; step++) {
    const grads = Object.fromEntries(
      vars.map((v) => [
        v.name,
        tf.tensor(
          Float32Array.from({ length: v.size }, () => rng.next() * 4 - 2),
          v.shape,
        ),
      ]),
    );
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
    if (decay) (optimizer as unknown as { learningRate: number }).learningRate *= 0.5;
  }
  const out = vars.map((v) => v.dataSync() as Float32Array);
  optimizer.dispose();
  tf.dispose(vars);
  return out;
}

describe("createAdam", () => {
  it("updates weights bit-identically to tf.train.adam on wasm, learning-rate changes included, and leaks nothing", async () => {
    await tf.setBackend("wasm");
    const before = tf.memory().numTensors;
    const fused = train(() => createAdam(tf, 1e-2), 6, true);
    expect(tf.memory().numTensors).toBe(before);
    const stock = train(() => tf.train.adam(1e-2), 6, true);
    fused.forEach((w, i) => {
      expect(Array.from(w), `variable ${i}`).toEqual(Array.from(stock[i] as Float32Array));
    });
    // The update did move the weights.
    const initial = train(() => createAdam(tf, 1e-2), 0, false);
    expect(Array.from(fused[1] as Float32Array)).not.toEqual(Array.from(initial[1] as Float32Array));
  });

  it("is the stock optimizer on the cpu backend (same results as on wasm)", async () => {
    await tf.setBackend("cpu");
    try {
      const cpu = train(() => createAdam(tf, 1e-2), 4, false);
      await tf.setBackend("wasm");
      const wasm = train(() => createAdam(tf, 1e-2), 4, false);
      cpu.forEach((w, i) => {
        const other = wasm[i] as Float32Array;
        for (let j = 0; j < w.length; j++) expect(Math.abs((w[j] as number) - (other[j] as number))).toBeLessThan(1e-6);
      });
    } finally {
      await tf.setBackend("wasm");
    }
  });
});
