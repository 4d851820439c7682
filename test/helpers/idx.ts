import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

/** Encodes unsigned-byte data as an IDX file. */
export function idxBytes(dims: number[], data: Uint8Array): Uint8Array {
  const head = Buffer.alloc(4 + dims.length * 4);
  head[2] = 0x08;
  head[3] = dims.length;
  for (const [i, d] of dims.entries()) head.writeUInt32BE(d, 4 + i * 4);
  return Buffer.concat([head, data]);
}

/**
 * A small, learnable 3-class image dataset in MNIST's IDX layout: class c lights up a band of rows
 * at a class-specific height, with noise. `gzip` writes .gz files as Debian's packages do.
 */
export async function writeToyIdx(dir: string, opts: { train?: number; test?: number; gzip?: boolean } = {}) {
  const side = 8;
  const make = (n: number, seed: number) => {
    const x = new Uint8Array(n * side * side);
    const y = new Uint8Array(n);
    let s = seed;
    const rnd = () => {
      s = (s * 1103515245 + 12345) >>> 0;
      return s / 4294967296;
    };
    for (let i = 0; i < n; i++) {
      const c = i % 3;
      y[i] = c;
      for (let p = 0; p < side * side; p++) {
        const row = Math.floor(p / side);
        const on = row >= c * 2 + 1 && row < c * 2 + 3;
        x[i * side * side + p] = Math.min(255, Math.floor((on ? 180 : 0) + rnd() * 60));
      }
    }
    return { x, y };
  };
  const write = async (name: string, bytes: Uint8Array) =>
    writeFile(join(dir, opts.gzip ? `${name}.gz` : name), opts.gzip ? gzipSync(bytes) : bytes);
  for (const [prefix, n, seed] of [
    ["train", opts.train ?? 300, 1],
    ["t10k", opts.test ?? 90, 2],
  ] as const) {
    const { x, y } = make(n, seed);
    await write(`${prefix}-images-idx3-ubyte`, idxBytes([n, side, side], x));
    await write(`${prefix}-labels-idx1-ubyte`, idxBytes([n], y));
  }
}
