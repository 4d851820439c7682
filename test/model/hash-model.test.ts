import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { weightLeafDigest, weightsRoot } from "../../src/core/digest/index.js";
import { hashModel } from "../../src/model/hash-model.js";
import { type FakeWeight, tempDir, writeFakeModel } from "../helpers/fixtures.js";

const weights: FakeWeight[] = [
  { name: "dense1/kernel", shape: [37, 11] },
  { name: "dense1/bias", shape: [11] },
  { name: "mask", shape: [3], dtype: "bool" },
  { name: "steps", shape: [2], dtype: "int32" },
  { name: "q8", shape: [5, 3], quantization: { dtype: "uint8", scale: 0.01, min: -1 } },
  { name: "h16", shape: [9], quantization: { dtype: "float16" } },
  { name: "empty", shape: [0, 4] },
];

describe("hashModel", () => {
  it("gives the same weights digest when weights are resharded or reordered, but a new files digest", async () => {
    const a = join(await tempDir(), "a");
    const b = join(await tempDir(), "b");
    await writeFakeModel(a, weights);
    await writeFakeModel(b, weights, { shardBytes: 7, order: [6, 5, 4, 3, 2, 1, 0] });
    const ha = await hashModel(a);
    const hb = await hashModel(b);
    expect(hb.files.length).toBeGreaterThan(100);
    expect(hb.weightsDigest).toBe(ha.weightsDigest);
    expect(hb.filesDigest).not.toBe(ha.filesDigest);
    expect(ha.weightCount).toBe(weights.length);
  });

  it("streams to the same leaf digests as the in-memory definition", async () => {
    const dir = join(await tempDir(), "m");
    await writeFakeModel(dir, weights, { shardBytes: 5 });
    const manifest = JSON.parse(await readFile(join(dir, "model.json"), "utf8")).weightsManifest[0];
    const bytes = Buffer.concat(await Promise.all(manifest.paths.map((p: string) => readFile(join(dir, p)))));
    let off = 0;
    const leaves = manifest.weights.map((w: FakeWeight & { dtype: string }) => {
      const n = w.shape.reduce((x, y) => x * y, 1);
      const per = { uint8: 1, float16: 2 }[w.quantization?.dtype ?? ""] ?? { bool: 1 }[w.dtype] ?? 4;
      const slice = bytes.subarray(off, off + n * per);
      off += n * per;
      return { name: w.name, digest: weightLeafDigest(w, slice) };
    });
    expect((await hashModel(dir)).weightsDigest).toBe(weightsRoot(leaves));
  });

  it("changes the weights digest when one weight byte changes", async () => {
    const dir = join(await tempDir(), "m");
    const flipped = weights.map((w) => ({ ...w }));
    await writeFakeModel(dir, weights);
    const before = await hashModel(dir);
    const bytes = new Uint8Array(37 * 11 * 4);
    bytes[100] = 1;
    (flipped[0] as FakeWeight).bytes = bytes;
    const dir2 = join(await tempDir(), "m2");
    await writeFakeModel(dir2, flipped);
    expect((await hashModel(dir2)).weightsDigest).not.toBe(before.weightsDigest);
  });

  it("hashes a real quantized weights manifest shipped in an npm package", async () => {
    const require = createRequire(import.meta.url);
    const modelDir = join(dirname(require.resolve("@vladmandic/face-api/package.json")), "model");
    const r = await hashModel(join(modelDir, "tiny_face_detector_model-weights_manifest.json"));
    expect(r.format).toBe("weights-manifest");
    expect(r.files.map((f) => f.path)).toEqual([
      "tiny_face_detector_model-weights_manifest.json",
      "tiny_face_detector_model.bin",
    ]);
    expect(r.files[1]?.size).toBe(193_321);
    expect(r.weightCount).toBe(19);
    expect(r.weightsDigest).toMatch(/^[0-9a-f]{64}$/);
  });
});
