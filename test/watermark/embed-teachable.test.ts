import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { imageParams, type WatermarkKey } from "../../src/core/watermark/params.js";
import { loadTf } from "../../src/model/backend.js";
import { disposeModel } from "../../src/model/dispose-model.js";
import { loadLayersModel } from "../../src/model/fs-io-handler.js";
import { readKernel, resolveKernelLayer } from "../../src/model/layers.js";
import { CERTIFICATE_FILE, type EmbedResult, embedWatermark } from "../../src/watermark/embed.js";
import { verifyModel } from "../../src/watermark/verify.js";
import { tempDir } from "../helpers/fixtures.js";
import { TM_TINY_MODEL } from "../helpers/nested-model.js";
import { writeTeachableIdx } from "../helpers/teachable-idx.js";

// A fixed seed keeps the short run's outcome the same on every machine.
const key: WatermarkKey = {
  seed: new Uint8Array(32).map((_, i) => i * 7 + 1),
  params: imageParams({
    classes: 2,
    inputShape: [96, 96, 1],
    layer: "dense_Dense1", // the short name a user passes; the layer sits at sequential_3/dense_Dense1
    bits: 32,
    triggers: 16,
    family: "noise",
    stampStrength: 0.3,
  }),
  stampBases: [],
};

let dir: string;
let embedded: EmbedResult;
let leaked: number;
beforeAll(async () => {
  dir = await tempDir();
  await mkdir(join(dir, "data"));
  await writeTeachableIdx(join(dir, "data"), 96);
  const { tf } = await loadTf("wasm");
  const before = tf.memory().numTensors;
  // Three steps of 16 frames + 6 triggers (about 2 s each on 2 busy cores): enough to see the mark move.
  embedded = await embedWatermark({
    model: TM_TINY_MODEL,
    keyPath: "fixed-key",
    key,
    dataset: `idx:${join(dir, "data")}`,
    out: join(dir, "marked"),
    backend: "wasm",
    settings: { maxEpochs: 3, batchSize: 16, lambda: 1 },
  });
  leaked = tf.memory().numTensors - before;
});

describe("embed on a nested Teachable Machine export", () => {
  it("finds the key's layer inside the nested head and fine-tunes it, leaking no tensor", async () => {
    expect(leaked).toBe(0);
    expect(embedded.epochs).toBe(3);
    const { tf } = await loadTf("wasm");
    const [source, marked] = [await loadLayersModel(tf, TM_TINY_MODEL), await loadLayersModel(tf, join(dir, "marked"))];
    const k = (m: typeof source) => readKernel(resolveKernelLayer(m, key.params.layer, "m"));
    expect(k(marked)).not.toEqual(k(source));
    disposeModel(source);
    disposeModel(marked);
    const cert = JSON.parse(await readFile(join(dir, "marked", CERTIFICATE_FILE), "utf8"));
    expect(cert.model.carrier).toMatchObject({ layer: "dense_Dense1", carrierLength: 256 });
    expect(cert.weightWatermark).toEqual({ bits: 32, derivation: "vrf/v2" });
  });

  it("keeps the export's topology and files: metadata.json copied, model.json's topology unchanged", async () => {
    const src = JSON.parse(await readFile(join(TM_TINY_MODEL, "model.json"), "utf8"));
    const out = JSON.parse(await readFile(join(dir, "marked", "model.json"), "utf8"));
    expect(out.modelTopology).toEqual(src.modelTopology);
    expect(await readFile(join(dir, "marked", "metadata.json"), "utf8")).toBe(
      await readFile(join(TM_TINY_MODEL, "metadata.json"), "utf8"),
    );
  });

  it("moves the weight mark towards the key's message: fewer bit errors than the source model has", async () => {
    const source = await verifyModel({ model: TM_TINY_MODEL, key, keyPath: "k", backend: "wasm" });
    const marked = await verifyModel({ model: join(dir, "marked"), key, keyPath: "k", backend: "wasm" });
    if (!source.weight.applicable || !marked.weight.applicable) throw new Error("weight test did not run");
    expect(marked.weight.bitErrors).toBe(embedded.bitErrors);
    expect(marked.weight.bitErrors).toBeLessThan(source.weight.bitErrors);
  });
});
