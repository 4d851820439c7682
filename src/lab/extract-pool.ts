import { createRng, permutation, type Rng } from "../core/rng.js";
import type { ImageDataset } from "../model/datasets/dataset.js";

/** The thief's own images: what it queries (`pool`) and what it keeps back to measure agreement. */
export interface ThiefPool {
  /** count × H·W·C bytes. */
  pool: Uint8Array;
  poolCount: number;
  heldOut: Uint8Array;
  heldOutCount: number;
  /** The held-out images' dataset labels (empty when unlabelled), for `--eval` on the same dataset. */
  heldOutLabels: Uint16Array;
  note: string;
}

/** Kept back from the pool, never queried for training: a quarter of it, at most this many. */
export const HELD_OUT_MAX = 500;

/**
 * Splits the thief's dataset into a query pool and a held-out part (seeded). For `mnist` the thief
 * takes the TEST split only (2,000 digits; provmark's models train on the other 8,000, so the
 * thief's images are ones the victim never saw); for any other dataset, both of its splits.
 */
export function thiefPool(data: ImageDataset, seed: number, which: "test" | "all" = "test"): ThiefPool {
  const px = data.inputShape[0] * data.inputShape[1] * data.inputShape[2];
  const parts = data.name === "mnist" && which === "test" ? [data.test] : [data.train, data.test];
  const count = parts.reduce((a, p) => a + p.count, 0);
  const pixels = new Uint8Array(count * px);
  const labels = new Uint16Array(data.labelled ? count : 0);
  let at = 0;
  for (const p of parts) {
    pixels.set(p.pixels, at * px);
    if (data.labelled) labels.set(p.y, at);
    at += p.count;
  }
  const order = permutation(count, createRng(seed, "extract-pool"));
  const held = Math.min(HELD_OUT_MAX, Math.floor(count / 4));
  const take = (from: number, n: number) => {
    const out = new Uint8Array(n * px);
    for (let i = 0; i < n; i++) {
      const j = order[from + i] as number;
      out.set(pixels.subarray(j * px, (j + 1) * px), i * px);
    }
    return out;
  };
  const heldOutLabels = new Uint16Array(data.labelled ? held : 0);
  if (data.labelled)
    for (let i = 0; i < held; i++) heldOutLabels[i] = labels[order[count - held + i] as number] as number;
  return {
    pool: take(0, count - held),
    poolCount: count - held,
    heldOut: take(count - held, held),
    heldOutCount: held,
    heldOutLabels,
    note: `${data.name}${data.name === "mnist" && which === "test" ? " test split" : ""}: ${count - held} images to query, ${held} held out`,
  };
}

/**
 * `n` natural queries: the pool in a seeded order, then (when `n` exceeds it) copies shifted by up
 * to 2 pixels, so every query is a plausible image and repeats are rare.
 */
export function naturalQueries(p: ThiefPool, shape: readonly [number, number, number], n: number, rng: Rng) {
  const px = shape[0] * shape[1] * shape[2];
  const out: Uint8Array[] = [];
  let order = permutation(p.poolCount, rng);
  for (let i = 0; i < n; i++) {
    const k = i % p.poolCount;
    if (k === 0 && i > 0) order = permutation(p.poolCount, rng);
    const src = p.pool.subarray((order[k] as number) * px, ((order[k] as number) + 1) * px);
    if (i < p.poolCount) {
      out.push(src);
      continue;
    }
    let dx = 0;
    let dy = 0;
    while (dx === 0 && dy === 0) {
      dx = rng.int(5) - 2;
      dy = rng.int(5) - 2;
    }
    out.push(shiftBytes(src, shape, dx, dy));
  }
  return out;
}

/** `n` images of uniform random bytes. */
export function noiseQueries(shape: readonly [number, number, number], n: number, rng: Rng): Uint8Array[] {
  const px = shape[0] * shape[1] * shape[2];
  return Array.from({ length: n }, () => {
    const img = new Uint8Array(px);
    for (let i = 0; i < px; i++) img[i] = rng.int(256);
    return img;
  });
}

/** An H×W×C image translated by (dx, dy), uncovered pixels 0. */
export function shiftBytes(src: Uint8Array, [h, w, c]: readonly [number, number, number], dx: number, dy: number) {
  const dst = new Uint8Array(src.length);
  for (let y = Math.max(0, dy); y < Math.min(h, h + dy); y++) {
    const from = ((y - dy) * w + Math.max(0, -dx)) * c;
    const to = (y * w + Math.max(0, dx)) * c;
    dst.set(src.subarray(from, from + (w - Math.abs(dx)) * c), to);
  }
  return dst;
}
