import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTf } from "../../src/model/backend.js";
import { hashModel } from "../../src/model/hash-model.js";
import { inspectModel } from "../../src/model/inspect-model.js";
import { trainModel } from "../../src/model/train-model.js";
import { tempDir } from "../helpers/fixtures.js";
import { writeToyIdx } from "../helpers/idx.js";

describe("trainModel", () => {
  it("is reproducible per seed, learns, saves a loadable model and leaks no tensors", async () => {
    const data = await tempDir();
    await writeToyIdx(data);
    const out = await tempDir();
    const { tf } = await loadTf("wasm");
    const before = tf.memory().numTensors;
    const run = (seed: number, name: string) =>
      trainModel({ dataset: `idx:${data}`, arch: "mlp", out: join(out, name), seed, epochs: 3, backend: "wasm" });
    const a = await run(5, "a");
    const b = await run(5, "b");
    await run(6, "c");
    expect(tf.memory().numTensors).toBe(before);
    expect(a.testAccuracy).toBeGreaterThan(0.9);
    expect(a.history).toHaveLength(3);
    expect(a.history[2]?.loss).toBeLessThan(a.history[0]?.loss ?? 0);
    const [ha, hb, hc] = await Promise.all(["a", "b", "c"].map((n) => hashModel(join(out, n))));
    expect(hb?.weightsDigest).toBe(ha?.weightsDigest);
    expect(hc?.weightsDigest).not.toBe(ha?.weightsDigest);
    expect(b.testAccuracy).toBe(a.testAccuracy);
    const info = await inspectModel(join(out, "a"));
    expect(info.layers.map((l) => l.className)).toEqual(["Flatten", "Dense", "Dropout", "Dense", "Dropout", "Dense"]);
    expect(info.paramCount).toBe(64 * 256 + 256 + 256 * 128 + 128 + 128 * 3 + 3);
  });
});

describe("trainModel --arch cnn", () => {
  it("refuses images too small for the CNN with a usage error (not a wasm trap)", async () => {
    const data = await tempDir();
    await writeToyIdx(data); // 8x8: the second pooling would output 0x0
    const out = join(await tempDir(), "cnn");
    await expect(
      trainModel({ dataset: `idx:${data}`, arch: "cnn", out, seed: 1, epochs: 1, backend: "wasm" }),
    ).rejects.toMatchObject({ code: "DATASET_MODEL_MISMATCH", message: expect.stringContaining("8x8x1") });
  });

  it("trains the CNN on the wasm backend (no cpu fallback) and leaks no tensors", async () => {
    const out = await tempDir();
    const { tf } = await loadTf("wasm");
    const before = tf.memory().numTensors;
    const r = await trainModel({
      dataset: "mnist",
      arch: "cnn",
      out: join(out, "cnn"),
      seed: 3,
      epochs: 1,
      backend: "wasm",
    });
    expect(r.backend).toBe("wasm");
    expect(r.testAccuracy).toBeGreaterThan(0.85); // one epoch; the default three reach about 0.95
    expect(tf.memory().numTensors).toBe(before);
    const info = await inspectModel(join(out, "cnn"));
    expect(info.layers.map((l) => l.className)).toEqual([
      "Conv2D",
      "MaxPooling2D",
      "Conv2D",
      "MaxPooling2D",
      "Flatten",
      "Dense",
      "Dense",
    ]);
  });
});
