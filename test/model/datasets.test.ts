import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { legacyModelIO, type ModelIO, PREPROCESS_PRESETS } from "../../src/core/input/model-io.js";
import { parseIdx } from "../../src/model/datasets/idx.js";
import { loadDataset } from "../../src/model/datasets/index.js";
import { tempDir } from "../helpers/fixtures.js";
import { idxBytes, writeToyIdx } from "../helpers/idx.js";

describe("built-in mnist dataset", () => {
  let first: ReturnType<typeof loadDataset> | undefined;
  const mnist = () => {
    first ??= loadDataset("mnist");
    return first;
  };

  it("splits the package's 10,000 digits the same way every time, stratified and disjoint", async () => {
    const a = await mnist();
    const b = await loadDataset("mnist");
    expect(a.train.count + a.test.count).toBe(10_000);
    expect(a.test.count).toBe(1996);
    expect(Buffer.from(a.test.x.buffer).equals(Buffer.from(b.test.x.buffer))).toBe(true);
    expect(Array.from(a.test.y)).toEqual(Array.from(b.test.y));
    const perClass = new Array(10).fill(0);
    for (const y of a.test.y) perClass[y]++;
    expect(Math.min(...perClass)).toBeGreaterThan(150);
    // no test image also appears in train (compare a fingerprint of each image)
    const key = (x: Float32Array, i: number) => Buffer.from(x.buffer, i * 784 * 4, 784 * 4).toString("base64");
    const train = new Set(Array.from({ length: a.train.count }, (_, i) => key(a.train.x, i)));
    const overlap = Array.from({ length: a.test.count }, (_, i) => key(a.test.x, i)).filter((k) => train.has(k));
    expect(overlap.length).toBeLessThan(5); // the package itself holds a few duplicate digits
    let max = 0;
    for (const v of a.train.x) max = Math.max(max, v);
    expect(max).toBeLessThanOrEqual(1);
    expect(max).toBeGreaterThan(0.9);
  });

  it("keeps the package's own floats as x, with the bytes they stand for as pixels", async () => {
    const d = await mnist();
    expect(d.kind).toBe("image");
    expect(d.labelled).toBe(true);
    expect(d.io).toEqual(legacyModelIO([28, 28, 1], 10));
    expect(d.train.pixels.length).toBe(d.train.x.length);
    let worst = 0;
    for (let i = 0; i < d.train.x.length; i++) {
      worst = Math.max(worst, Math.abs((d.train.x[i] as number) - (d.train.pixels[i] as number) / 255));
    }
    // the package rounds pixel/255 to 3 decimals; the bytes are the levels those decimals stand for
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(0.0005 + 1e-7);
  });

  it("makes x with the model's preprocessing when the model's io is given", async () => {
    const io: ModelIO = {
      input: { ...(legacyModelIO([28, 28, 1], 10).input as ModelIO["input"] & { kind: "image" }) },
      classes: { count: 12 },
    };
    if (io.input.kind !== "image") throw new Error("unreachable");
    io.input.preprocess = PREPROCESS_PRESETS["pixel/127-1"].preprocess;
    const d = await loadDataset("mnist", { io });
    expect(d.io).toEqual(io);
    expect(d.numClasses).toBe(12);
    for (const i of [0, 150, 151, 400, 783, 10_000]) {
      expect(d.test.x[i]).toBe(Math.fround((d.test.pixels[i] as number) / 127 - 1));
    }
  });
});

describe("idx:<dir> datasets", () => {
  it("reads raw and gzipped IDX files alike", async () => {
    const raw = await tempDir();
    const gz = await tempDir();
    await writeToyIdx(raw);
    await writeToyIdx(gz, { gzip: true });
    const a = await loadDataset(`idx:${raw}`);
    const b = await loadDataset(`idx:${gz}`);
    expect(a.inputShape).toEqual([8, 8, 1]);
    expect(a.numClasses).toBe(3);
    expect(a.train.count).toBe(300);
    expect(a.test.count).toBe(90);
    expect(Array.from(b.train.y)).toEqual(Array.from(a.train.y));
    expect(b.train.x).toEqual(a.train.x);
    // x is exactly pixel/255 (division, as before ModelIO), pixels the file's bytes
    const bytes = parseIdx(new Uint8Array(await readFile(join(raw, "train-images-idx3-ubyte"))), "f").data;
    expect(Buffer.from(a.train.pixels).equals(Buffer.from(bytes))).toBe(true);
    expect(Array.from(a.train.x)).toEqual(Array.from(bytes, (v) => Math.fround(v / 255)));
  });

  it("refuses a model io of another size, channel count or fewer classes, and vector models", async () => {
    const dir = await tempDir();
    await writeToyIdx(dir);
    const ok = legacyModelIO([8, 8, 1], 3);
    await expect(loadDataset(`idx:${dir}`, { io: ok })).resolves.toMatchObject({ numClasses: 3 });
    for (const io of [
      legacyModelIO([8, 9, 1], 3),
      legacyModelIO([8, 8, 3], 3),
      legacyModelIO([8, 8, 1], 2),
      { input: { kind: "vector", features: 64, ranges: Array(64).fill([0, 1]) }, classes: { count: 3 } } as ModelIO,
    ]) {
      await expect(loadDataset(`idx:${dir}`, { io })).rejects.toMatchObject({ code: "DATASET_MODEL_MISMATCH" });
    }
  });

  it("names the file and problem for malformed IDX data", async () => {
    expect(() => parseIdx(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]), "labels")).toThrow(
      /labels is not an IDX file: header says 5 values, file holds 2/,
    );
    expect(() => parseIdx(new Uint8Array([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]), "f")).toThrow(/element type 0xd/);
    const dir = await tempDir();
    await writeToyIdx(dir);
    await writeFile(join(dir, "t10k-labels-idx1-ubyte"), idxBytes([80], new Uint8Array(80)));
    await expect(loadDataset(`idx:${dir}`)).rejects.toMatchObject({ code: "DATASET_INVALID" });
    await expect(loadDataset(`idx:${join(dir, "none")}`)).rejects.toMatchObject({ code: "PATH_NOT_FOUND" });
  });

  it.runIf(existsSync("/usr/share/datasets/fashion-mnist"))(
    "reads Debian's Fashion-MNIST (dataset-fashion-mnist)",
    async () => {
      const d = await loadDataset("idx:/usr/share/datasets/fashion-mnist");
      expect([d.train.count, d.test.count, d.numClasses]).toEqual([60_000, 10_000, 10]);
      expect(d.inputShape).toEqual([28, 28, 1]);
    },
  );
});

describe("loadDataset options", () => {
  it("refuses options that do not apply to the spec, before reading anything", async () => {
    const none = join(await tempDir(), "none");
    await expect(loadDataset("mnist", { labelColumn: "y" })).rejects.toMatchObject({ code: "USAGE" });
    await expect(loadDataset(`idx:${none}`, { classNames: ["a", "b"] })).rejects.toMatchObject({ code: "USAGE" });
    await expect(loadDataset(`csv:${none}`)).rejects.toMatchObject({ code: "DATASET_MODEL_MISMATCH" });
    await expect(loadDataset(`unlabeled:${none}`)).rejects.toMatchObject({ code: "DATASET_UNLABELLED" });
    await expect(loadDataset(`csv:${none}`, { accept: "any" })).rejects.toMatchObject({ code: "PATH_NOT_FOUND" });
    for (const spec of ["images:", "csv:", "mnist:x", "folder:/tmp"]) {
      await expect(loadDataset(spec)).rejects.toMatchObject({ code: "DATASET_UNKNOWN" });
    }
  });
});
