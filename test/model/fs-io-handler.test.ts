import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Tensor } from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { buildModel } from "../../src/model/archs.js";
import { type LoadedTf, loadTf } from "../../src/model/backend.js";
import { fileSaveHandler, loadLayersModel, readNamedWeights, SHARD_BYTES } from "../../src/model/fs-io-handler.js";
import { hashModel } from "../../src/model/hash-model.js";
import { tempDir, writeFakeModel } from "../helpers/fixtures.js";

let L: LoadedTf;
beforeAll(async () => {
  L = await loadTf("wasm");
});

describe("filesystem IOHandler", () => {
  it("round-trips a LayersModel: same predictions, same weights digest, no tensor leak", async () => {
    const { tf } = L;
    const before = tf.memory().numTensors;
    const dir = join(await tempDir(), "mlp");
    const model = buildModel(tf, "mlp", [28, 28, 1], 10, 7);
    await model.save(fileSaveHandler(tf, dir));
    const files = (await readdir(dir)).sort();
    expect(files).toEqual(["group1-shard1of1.bin", "model.json"]);
    const loaded = await loadLayersModel(tf, dir);
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, "float32", 3);
    const a = tf.tidy(() => (model.predict(x) as Tensor).dataSync());
    const b = tf.tidy(() => (loaded.predict(x) as Tensor).dataSync());
    expect(Array.from(b)).toEqual(Array.from(a));
    tf.dispose(x);
    // re-saving the loaded model gives byte-identical weights
    const dir2 = join(await tempDir(), "again");
    await loaded.save(fileSaveHandler(tf, dir2));
    expect((await hashModel(dir2)).weightsDigest).toBe((await hashModel(dir)).weightsDigest);
    model.dispose();
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("shards large models at 4 MiB like TF.js and refuses to overwrite", async () => {
    const { tf } = L;
    const dir = join(await tempDir(), "big");
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [1500], units: 1000 })] });
    await model.save(fileSaveHandler(tf, dir));
    const shards = (await readdir(dir)).filter((f) => f.endsWith(".bin")).sort();
    expect(shards).toEqual(["group1-shard1of2.bin", "group1-shard2of2.bin"]);
    expect((await readFile(join(dir, "group1-shard1of2.bin"))).length).toBe(SHARD_BYTES);
    await expect(model.save(fileSaveHandler(tf, dir))).rejects.toMatchObject({ code: "OUTPUT_EXISTS" });
    await model.save(fileSaveHandler(tf, dir, { overwrite: true }));
    expect((await readdir(join(dir, ".."))).filter((f) => f.includes(".tmp-") || f.includes(".old-"))).toEqual([]);
    model.dispose();
  });

  it("decodes uint8, uint16 and float16 quantized weights to the values they encode", async () => {
    const { tf } = L;
    const dir = join(await tempDir(), "q");
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x3800, 0x0000]); // 1, -2, 0.5, 0
    await writeFakeModel(dir, [
      {
        name: "u8",
        shape: [3],
        quantization: { dtype: "uint8", scale: 0.5, min: -1 },
        bytes: new Uint8Array([0, 2, 255]),
      },
      {
        name: "u16",
        shape: [2],
        quantization: { dtype: "uint16", scale: 0.25, min: 10 },
        bytes: new Uint8Array(new Uint16Array([4, 1000]).buffer),
      },
      { name: "f16", shape: [2, 2], quantization: { dtype: "float16" }, bytes: new Uint8Array(f16.buffer) },
    ]);
    const w = await readNamedWeights(tf, dir);
    expect(Array.from(w.u8?.dataSync() ?? [])).toEqual([-1, 0, 126.5]);
    expect(Array.from(w.u16?.dataSync() ?? [])).toEqual([11, 260]);
    expect(Array.from(w.f16?.dataSync() ?? [])).toEqual([1, -2, 0.5, 0]);
    expect(w.f16?.shape).toEqual([2, 2]);
    tf.dispose(Object.values(w));
  });

  it("refuses to build a graph model or a bare manifest as a LayersModel", async () => {
    const dir = join(await tempDir(), "graph");
    await writeFakeModel(dir, [{ name: "w", shape: [2] }]);
    const m = JSON.parse(await readFile(join(dir, "model.json"), "utf8"));
    await writeFile(
      join(dir, "model.json"),
      JSON.stringify({ ...m, format: "graph-model", modelTopology: { node: [{ op: "Const" }] } }),
    );
    await expect(loadLayersModel(L.tf, dir)).rejects.toMatchObject({ code: "MODEL_FORMAT_UNSUPPORTED" });
  });
});
