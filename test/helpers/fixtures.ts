import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

const made: string[] = [];
afterAll(async () => {
  await Promise.all(made.map((d) => rm(d, { recursive: true, force: true })));
});

/** A fresh temp directory removed after the test file. */
export async function tempDir(prefix = "provmark-test-"): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export interface FakeWeight {
  name: string;
  shape: number[];
  dtype?: string;
  quantization?: { dtype: string; scale?: number; min?: number };
  /** Stored bytes; defaults to a deterministic pattern of the right length. */
  bytes?: Uint8Array;
}

export function storedSize(w: FakeWeight): number {
  const n = w.shape.reduce((a, b) => a * b, 1);
  const stored = w.quantization?.dtype ?? w.dtype ?? "float32";
  const per = { float32: 4, int32: 4, complex64: 8, bool: 1, uint8: 1, uint16: 2, float16: 2 }[stored] ?? 4;
  return n * per;
}

/** Float32 little-endian bytes of the given values. */
export function f32(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

function pattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  let x = seed * 2654435761;
  for (let i = 0; i < len; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  // keep float32 patterns finite: clear the top exponent bit of every 4th byte
  for (let i = 3; i < len; i += 4) b[i] = (b[i] as number) & 0x3f;
  return b;
}

/**
 * Writes a TF.js model directory by hand: model.json (LayersModel-shaped topology, or a bare
 * weights manifest) with the weights split into shards of `shardBytes`.
 */
export async function writeFakeModel(
  dir: string,
  weights: FakeWeight[],
  opts: { shardBytes?: number; manifestOnly?: string; order?: number[] } = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const ordered = (opts.order ?? weights.map((_, i) => i)).map((i) => weights[i] as FakeWeight);
  const parts = ordered.map((w, i) => w.bytes ?? pattern(storedSize(w), weights.indexOf(w) + 1 + i * 0));
  const all = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  const shardBytes = opts.shardBytes ?? (all.length || 1);
  const count = Math.max(1, Math.ceil(all.length / shardBytes));
  const paths = Array.from({ length: count }, (_, i) => `group1-shard${i + 1}of${count}.bin`);
  for (const [i, p] of paths.entries())
    await writeFile(join(dir, p), all.subarray(i * shardBytes, (i + 1) * shardBytes));
  const specs = ordered.map((w) => ({
    name: w.name,
    shape: w.shape,
    dtype: w.dtype ?? "float32",
    ...(w.quantization ? { quantization: w.quantization } : {}),
  }));
  const manifest = [{ paths, weights: specs }];
  if (opts.manifestOnly) {
    await writeFile(join(dir, opts.manifestOnly), JSON.stringify(manifest));
    return;
  }
  const modelJson = {
    format: "layers-model",
    generatedBy: "provmark-test",
    modelTopology: { class_name: "Sequential", config: { name: "m", layers: [] } },
    weightsManifest: manifest,
  };
  await writeFile(join(dir, "model.json"), JSON.stringify(modelJson));
}
