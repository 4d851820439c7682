import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readWeightBytes } from "../../../src/model/fs-io-handler.js";

/**
 * Re-saves a float32 LayersModel the way a thief's converter would: every weight quantized to uint8
 * (tfjs-converter's affine `{dtype: "uint8", min, scale}`), the bytes cut into shards of `shardBytes`.
 */
export async function requantizeUint8(from: string, to: string, shardBytes: number): Promise<void> {
  const modelJson = JSON.parse(await readFile(join(from, "model.json"), "utf8")) as Record<string, unknown>;
  const w = await readWeightBytes(from);
  const all = new Float32Array(w.data);
  const parts: Uint8Array[] = [];
  const specs = [];
  let off = 0;
  for (const spec of w.specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const values = all.subarray(off, off + n);
    off += n;
    let min = Infinity;
    let max = -Infinity;
    for (const v of values) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    const scale = max > min ? (max - min) / 255 : 1;
    parts.push(Uint8Array.from(values, (v) => Math.round((v - min) / scale)));
    specs.push({ name: spec.name, shape: spec.shape, dtype: "float32", quantization: { dtype: "uint8", min, scale } });
  }
  const bytes = Buffer.concat(parts);
  const count = Math.ceil(bytes.length / shardBytes);
  const paths = Array.from({ length: count }, (_, i) => `group1-shard${i + 1}of${count}.bin`);
  await mkdir(to, { recursive: true });
  for (const [i, p] of paths.entries())
    await writeFile(join(to, p), bytes.subarray(i * shardBytes, (i + 1) * shardBytes));
  modelJson.weightsManifest = [{ paths, weights: specs }];
  modelJson.generatedBy = "a thief's converter";
  await writeFile(join(to, "model.json"), JSON.stringify(modelJson));
}
