import { cp, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { type LoadedTf, loadTf } from "../../src/model/backend.js";
import { disposeModel } from "../../src/model/dispose-model.js";
import { fileSaveHandler, loadLayersModel } from "../../src/model/fs-io-handler.js";
import { hashModel } from "../../src/model/hash-model.js";
import { readKernel, resolveKernelLayer, writeKernel } from "../../src/model/layers.js";
import { saveLikeSource } from "../../src/model/save-like-source.js";
import { tempDir } from "../helpers/fixtures.js";
import { buildNestedModel, TM_IMAGE_MODEL } from "../helpers/nested-model.js";

let L: LoadedTf;
let root: string;
beforeAll(async () => {
  L = await loadTf("wasm");
  root = await tempDir();
});

const readJson = async (dir: string) => JSON.parse(await readFile(join(dir, "model.json"), "utf8"));

/** tf.loadLayersModel on the files as they are: no provmark handler, no naming of nested models. */
async function plainLoad(tf: LoadedTf["tf"], dir: string): Promise<tfTypes.LayersModel> {
  const json = await readJson(dir);
  const bytes: Buffer[] = [];
  for (const g of json.weightsManifest) for (const p of g.paths) bytes.push(await readFile(join(dir, p)));
  const data = Buffer.concat(bytes);
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights),
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.length),
    }),
  );
}

function predict(tf: LoadedTf["tf"], model: tfTypes.LayersModel, x: tfTypes.Tensor): number[] {
  return tf.tidy(() => Array.from((model.predict(x) as tfTypes.Tensor).dataSync()));
}

describe("saving a model in its source's file layout", () => {
  it("round-trips the Teachable Machine export: same topology, files and predictions", async () => {
    const { tf } = L;
    const before = tf.memory().numTensors;
    const model = await loadLayersModel(tf, TM_IMAGE_MODEL);
    const out = join(root, "tm-copy");
    const r = await saveLikeSource(model, TM_IMAGE_MODEL, out);
    expect(r).toMatchObject({ copied: ["metadata.json"], skipped: [], layout: "source" });
    expect((await readdir(out)).sort()).toEqual(["metadata.json", "model.json", "weights.bin"]);
    const [src, dst] = [await readJson(TM_IMAGE_MODEL), await readJson(out)];
    // the nameless nested Sequentials stay nameless: the topology is the source's, key for key
    expect(dst.modelTopology).toEqual(src.modelTopology);
    expect(dst.weightsManifest).toEqual(src.weightsManifest);
    expect(await readFile(join(out, "metadata.json"))).toEqual(await readFile(join(TM_IMAGE_MODEL, "metadata.json")));
    const [h1, h2] = [await hashModel(TM_IMAGE_MODEL), await hashModel(out)];
    expect(h2.weightsDigest).toBe(h1.weightsDigest);
    const x = tf.randomUniform([2, 224, 224, 3], -1, 1, "float32", 4);
    const a = await plainLoad(tf, TM_IMAGE_MODEL);
    const b = await plainLoad(tf, out);
    expect(predict(tf, b, x)).toEqual(predict(tf, a, x));
    tf.dispose(x);
    for (const m of [model, a, b]) disposeModel(m);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("writes a changed kernel that a plain reload computes with, and extra files beside it", async () => {
    const { tf } = L;
    const model = await loadLayersModel(tf, TM_IMAGE_MODEL);
    const dense = resolveKernelLayer(model, "dense_Dense1", "tm");
    const changed = readKernel(dense).map((v, i) => v + (i % 3 === 0 ? 0.01 : -0.01));
    writeKernel(tf, dense, changed);
    const out = join(root, "tm-marked");
    let certified = "";
    await saveLikeSource(model, TM_IMAGE_MODEL, out, {
      extraFiles: ({ specs, data }) => {
        certified = `${specs.length} weights, ${data.length} bytes`;
        return { "watermark-certificate.json": certified };
      },
    });
    expect(await readFile(join(out, "watermark-certificate.json"), "utf8")).toBe("263 weights, 2154032 bytes");
    expect((await readJson(out)).modelTopology).toEqual((await readJson(TM_IMAGE_MODEL)).modelTopology);
    const reloaded = await plainLoad(tf, out);
    const kernel = reloaded.weights.find((w) => w.originalName === "dense_Dense1/kernel");
    expect(Array.from(kernel?.read().dataSync() ?? [])).toEqual(Array.from(changed));
    const x = tf.randomUniform([1, 224, 224, 3], -1, 1, "float32", 5);
    const source = await plainLoad(tf, TM_IMAGE_MODEL);
    expect(predict(tf, reloaded, x)).toEqual(predict(tf, model, x));
    expect(predict(tf, reloaded, x)).not.toEqual(predict(tf, source, x));
    tf.dispose(x);
    for (const m of [model, reloaded, source]) disposeModel(m);
  });

  it("writes quantized sources back as float32 in the same shard files", async () => {
    const { tf } = L;
    const src = join(root, "quantized");
    const model = buildNestedModel(tf, 2);
    await model.save(fileSaveHandler(tf, src));
    // quantize the head's kernel to uint8 by hand, the way the TF.js converter stores it
    const json = await readJson(src);
    const specs = json.weightsManifest[0].weights as { name: string; shape: number[]; quantization?: object }[];
    const bin = await readFile(join(src, "group1-shard1of1.bin"));
    const parts: Buffer[] = [];
    let off = 0;
    for (const spec of specs) {
      const n = spec.shape.reduce((a, b) => a * b, 1);
      const f = new Float32Array(bin.buffer.slice(bin.byteOffset + off, bin.byteOffset + off + n * 4));
      off += n * 4;
      if (spec.name !== "features/kernel") {
        parts.push(Buffer.from(f.buffer));
        continue;
      }
      const min = Math.min(...f);
      const scale = (Math.max(...f) - min) / 255;
      parts.push(Buffer.from(Uint8Array.from(f, (v) => Math.round((v - min) / scale))));
      spec.quantization = { dtype: "uint8", min, scale, original_dtype: "float32" };
    }
    await writeFile(join(src, "group1-shard1of1.bin"), Buffer.concat(parts));
    await writeFile(join(src, "model.json"), JSON.stringify(json));
    const loaded = await loadLayersModel(tf, src);
    const out = join(root, "dequantized");
    const r = await saveLikeSource(loaded, src, out);
    expect(r.layout).toBe("resized");
    const written = await readJson(out);
    expect(written.weightsManifest[0].paths).toEqual(["group1-shard1of1.bin"]);
    const spec = written.weightsManifest[0].weights.find((w: { name: string }) => w.name === "features/kernel");
    expect(spec).toEqual({ name: "features/kernel", shape: [16, 32], dtype: "float32" });
    const again = await loadLayersModel(tf, out);
    const k = (m: tfTypes.LayersModel) => readKernel(resolveKernelLayer(m, "features", "m"));
    expect(k(again)).toEqual(k(loaded));
    for (const m of [model, loaded, again]) disposeModel(m);
  });

  it("refuses a model that is not the source's, and non-finite weights, writing nothing", async () => {
    const { tf } = L;
    const other = buildNestedModel(tf, 1);
    await expect(saveLikeSource(other, TM_IMAGE_MODEL, join(root, "wrong"))).rejects.toMatchObject({
      code: "MODEL_WEIGHTS_MISMATCH",
      message: expect.stringContaining("the model has no weight Conv1/kernel"),
    });
    const src = join(root, "nested-src");
    await other.save(fileSaveHandler(tf, src));
    const wider = buildNestedModel(tf, 1, 4);
    await expect(saveLikeSource(wider, src, join(root, "wider"))).rejects.toMatchObject({
      code: "MODEL_WEIGHTS_MISMATCH",
      message: expect.stringContaining("logits/kernel is [32,4] in the model, [32,3] in the source"),
    });
    const dense = resolveKernelLayer(other, "features", "m");
    const bad = readKernel(dense);
    bad[0] = Number.POSITIVE_INFINITY;
    // writeKernel refuses this; a diverged training step can still leave it in the variable
    const t = tf.tensor(bad, dense.kernel.shape);
    dense.kernel.variable.write(t);
    t.dispose();
    await expect(saveLikeSource(other, src, join(root, "nonfinite"))).rejects.toMatchObject({
      code: "MODEL_WEIGHTS_NONFINITE",
      subject: "features/kernel",
    });
    expect(
      (await readdir(root)).filter((f) => ["wrong", "wider", "nonfinite"].includes(f) || f.includes(".tmp-")),
    ).toEqual([]);
    await expect(saveLikeSource(wider, src, src)).rejects.toMatchObject({ code: "MODEL_WEIGHTS_MISMATCH" });
    for (const m of [other, wider]) disposeModel(m);
  });

  it("refuses to replace an existing output unless asked, and skips sub-directories", async () => {
    const { tf } = L;
    const src = join(root, "with-extras");
    await cp(TM_IMAGE_MODEL, src, { recursive: true });
    await writeFile(join(src, "labels.txt"), "Class 1\nClass 2\n");
    await mkdir(join(src, "photos"));
    const model = await loadLayersModel(tf, src);
    const out = join(root, "extras-out");
    const r = await saveLikeSource(model, src, out);
    expect(r).toMatchObject({ copied: ["labels.txt", "metadata.json"], skipped: ["photos"] });
    await expect(saveLikeSource(model, src, out)).rejects.toMatchObject({ code: "OUTPUT_EXISTS" });
    await saveLikeSource(model, src, out, { overwrite: true });
    expect((await readdir(out)).sort()).toEqual(["labels.txt", "metadata.json", "model.json", "weights.bin"]);
    disposeModel(model);
  });
});
