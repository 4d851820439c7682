import { cp, rm } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadTf } from "../../src/model/backend.js";
import { disposeModel } from "../../src/model/dispose-model.js";
import { fileSaveHandler, loadLayersModel } from "../../src/model/fs-io-handler.js";
import { inspectModel } from "../../src/model/inspect-model.js";
import { listLayers } from "../../src/model/layers.js";
import { tempDir, writeFakeModel } from "../helpers/fixtures.js";
import { buildNestedModel, TM_IMAGE_MODEL, TM_TINY_MODEL } from "../helpers/nested-model.js";

let root: string;
beforeAll(async () => {
  root = await tempDir();
});

describe("inspect on nested models", () => {
  it("lists layers at every depth under the paths the loaded model has", async () => {
    const { tf } = await loadTf("wasm");
    const nested = join(root, "nested");
    const built = buildNestedModel(tf, 1);
    await built.save(fileSaveHandler(tf, nested));
    disposeModel(built);
    for (const dir of [TM_IMAGE_MODEL, TM_TINY_MODEL, nested]) {
      const info = await inspectModel(dir);
      const model = await loadLayersModel(tf, dir);
      expect(info.layers.map((l) => [l.path, l.className])).toEqual(
        listLayers(model).map((l) => [l.path, l.className]),
      );
      disposeModel(model);
      const top = info.layers.filter((l) => l.depth === 0).reduce((a, l) => a + l.params, 0);
      expect(top).toBe(info.paramCount);
    }
    const tm = await inspectModel(TM_IMAGE_MODEL);
    const head = tm.layers.find((l) => l.path === "sequential_3");
    const dense = tm.weights.filter((w) => w.name.startsWith("dense_Dense"));
    expect(head).toMatchObject({ container: true, params: dense.reduce((a, w) => a + w.params, 0) });
    expect(tm.layers.find((l) => l.path === "sequential_3/dense_Dense1")?.weights).toEqual([
      "dense_Dense1/kernel",
      "dense_Dense1/bias",
    ]);
    expect(tm.io).toBeUndefined();
  });

  it("adds the inferred inputs, classes and carrier when asked", async () => {
    const info = await inspectModel(TM_IMAGE_MODEL, { io: {}, backend: "wasm" });
    expect(info.io).toMatchObject({ io: { classes: { count: 2, names: ["Class 1", "Class 2"] } } });
    expect(info.carrier).toMatchObject({ layer: "sequential_3/dense_Dense1", carrierLength: 1280 });
  });

  it("reports what it cannot infer without failing, but refuses a bad flag", async () => {
    const bare = join(root, "bare");
    await cp(TM_IMAGE_MODEL, bare, { recursive: true });
    await rm(join(bare, "metadata.json"));
    const info = await inspectModel(bare, { io: {}, backend: "wasm" });
    expect(info.io).toMatchObject({ error: { code: "PREPROCESS_REQUIRED" } });
    expect(info.carrier).toMatchObject({ layer: "sequential_3/dense_Dense1" });
    await expect(inspectModel(bare, { io: { preprocess: "pixel/256" }, backend: "wasm" })).rejects.toMatchObject({
      code: "USAGE",
      subject: "--preprocess",
    });
    // a model TF.js cannot build is still summarised from its files
    const fake = join(root, "fake");
    await writeFakeModel(fake, [{ name: "d/kernel", shape: [4, 3] }]);
    const f = await inspectModel(fake, { io: {}, backend: "wasm" });
    expect(f.io).toMatchObject({ error: { code: "MODEL_LOAD_FAILED" } });
    expect(f.paramCount).toBe(12);
  });
});
