import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseIdx } from "../../src/model/datasets/idx.js";
import { loadDataset } from "../../src/model/datasets/index.js";
import { tempDir } from "../helpers/fixtures.js";
import { idxBytes, writeToyIdx } from "../helpers/idx.js";

describe("built-in mnist dataset", () => {
  it("splits the package's 10,000 digits the same way every time, stratified and disjoint", async () => {
    const a = await loadDataset("mnist");
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
