import type * as tfTypes from "@tensorflow/tfjs";
import { augmentImage, DEFAULT_AUGMENTATION } from "../core/input/augment.js";
import { type ImageInput, toModelInput } from "../core/input/model-io.js";
import { createRng, permutation, type Rng } from "../core/rng.js";
import type { Dataset, ImageSplit, Split } from "../model/datasets/dataset.js";
import { pixelsPerExample } from "../model/datasets/dataset.js";
import { applyLayers, type CarrierSplit } from "./split-at-carrier.js";

type TF = typeof tfTypes;

/** Clean training examples, one batch at a time, with their targets (probabilities or one-hot labels). */
export interface CleanSource {
  /** The next `n` examples as [n, ...inputShape] and [n, classes] tensors (call inside tidy()). */
  batch(n: number): { x: tfTypes.Tensor; y: tfTypes.Tensor };
  dispose(): void;
}

export interface SourceOptions {
  data: Dataset;
  augmented: boolean;
  /** Train towards the original model's probabilities (it is `original` here) rather than the labels. */
  teacher: boolean;
  rng: Rng;
}

/** Augmented views of each training image held as features; enough for a few thousand distinct examples. */
const POOL_EXAMPLES = 512;
const MAX_VIEWS = 128;
/** Feature pools larger than this are not held in memory: the prefix then runs on every step. */
const MAX_POOL_BYTES = 1 << 30;
/** Seeded views of each held-out image fidelity is measured on, when training is augmented. */
export const HELD_OUT_VIEWS = 50;

/** How many views of each training image a feature pool holds (1 without augmentation). */
export function poolViews(trainCount: number, augmented: boolean): number {
  return augmented ? Math.min(MAX_VIEWS, Math.max(1, Math.ceil(POOL_EXAMPLES / Math.max(1, trainCount)))) : 1;
}

/** Whether a feature pool of this size fits in memory. */
export function poolFits(trainCount: number, augmented: boolean, featureSize: number): boolean {
  return trainCount * poolViews(trainCount, augmented) * featureSize * 4 <= MAX_POOL_BYTES;
}

/**
 * The model inputs of examples `indices` of a split; image examples augmented (seeded by `rng`) from
 * their bytes when `augment` is given.
 */
export function inputsOf(data: Dataset, split: Split, indices: ArrayLike<number>, augment: Rng | null): Float32Array {
  const size = pixelsPerExample(data);
  const out = new Float32Array(indices.length * size);
  const image = data.kind === "image" ? (data.io.input as ImageInput) : null;
  const buf = augment && image ? new Uint8Array(size) : null;
  const shape = image && { height: image.height, width: image.width, channels: image.channels };
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i] as number;
    if (augment && image && buf && shape) {
      const pixels = (split as ImageSplit).pixels.subarray(j * size, (j + 1) * size);
      augmentImage(pixels, shape, DEFAULT_AUGMENTATION, augment, buf);
      out.set(toModelInput(image, buf), i * size);
    } else {
      out.set(split.x.subarray(j * size, (j + 1) * size), i * size);
    }
  }
  return out;
}

/** Blends each of `n` model inputs with another training image's augmented view, by a weight in [0, 0.5]. */
function blendWithOthers(data: Dataset, inputs: Float32Array, n: number, rng: Rng): void {
  const size = pixelsPerExample(data);
  const others = Int32Array.from({ length: n }, () => rng.int(data.train.count));
  const mates = inputsOf(data, data.train, others, rng);
  for (let i = 0; i < n; i++) {
    const w = rng.next() * 0.5;
    for (let k = i * size; k < (i + 1) * size; k++) {
      inputs[k] = (1 - w) * (inputs[k] as number) + w * (mates[k] as number);
    }
  }
}

/** Cycles through permutations of 0..n-1, a new one each pass. */
function cycler(n: number, rng: Rng): (k: number) => Int32Array {
  let order = permutation(n, rng);
  let pos = 0;
  return (k) => {
    const pick = new Int32Array(k);
    for (let i = 0; i < k; i++) {
      if (pos === order.length) {
        order = permutation(n, rng);
        pos = 0;
      }
      pick[i] = order[pos++] as number;
    }
    return pick;
  };
}

/**
 * Examples run through the model on every step: fresh augmentation each time, targets from the
 * labels or from `teacher` (a separate copy of the original model, since the one trained changes).
 */
export function streamingSource(tf: TF, o: SourceOptions, teacher: tfTypes.LayersModel | null): CleanSource {
  const { data } = o;
  const next = cycler(data.train.count, o.rng);
  return {
    batch(n) {
      const pick = next(n);
      const x = tf.tensor(inputsOf(data, data.train, pick, o.augmented ? o.rng : null), [n, ...data.inputShape]);
      const y = teacher
        ? (teacher.predict(x) as tfTypes.Tensor)
        : tf.oneHot(
            tf.tensor1d(
              Int32Array.from(pick, (j) => data.train.y[j] as number),
              "int32",
            ),
            data.numClasses,
          );
      return { x, y };
    },
    dispose() {},
  };
}

/**
 * Examples held as the frozen prefix's outputs, computed once: `views` augmented copies of each
 * training image (or the images themselves), with targets from the labels or from the original
 * head, which is the model being trained before its first step. Steps then cost the head alone.
 */
export function featurePool(
  tf: TF,
  o: SourceOptions,
  split: CarrierSplit,
  onProgress?: (done: number, total: number) => void,
): CleanSource {
  const { data } = o;
  const views = poolViews(data.train.count, o.augmented);
  const count = data.train.count * views;
  const feat = split.featureShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(count * feat);
  const y = new Float32Array(count * data.numClasses);
  const chunk = 32;
  let done = 0;
  for (let v = 0; v < views; v++) {
    for (let s = 0; s < data.train.count; s += chunk) {
      const idx = Int32Array.from({ length: Math.min(chunk, data.train.count - s) }, (_, i) => s + i);
      const inputs = inputsOf(data, data.train, idx, o.augmented ? o.rng : null);
      // Every other view blends two augmented images: the teacher's answers on blends pin the head
      // down between the classes, where augmented held-out images that the original finds ambiguous lie.
      if (o.augmented && o.teacher && v % 2 === 1) blendWithOthers(data, inputs, idx.length, o.rng);
      const [f, t] = tf.tidy(() => {
        const h = applyLayers(split.prefix, tf.tensor(inputs, [idx.length, ...data.inputShape]), false);
        const target = o.teacher
          ? applyLayers(split.head, h, false)
          : tf.oneHot(
              tf.tensor1d(
                Int32Array.from(idx, (j) => data.train.y[j] as number),
                "int32",
              ),
              data.numClasses,
            );
        return [h.dataSync() as Float32Array, target.dataSync() as Float32Array];
      });
      x.set(f, done * feat);
      y.set(t, done * data.numClasses);
      done += idx.length;
      onProgress?.(done, count);
    }
  }
  const next = cycler(count, o.rng);
  const xs = tf.tensor2d(x, [count, feat]);
  const ys = tf.tensor2d(y, [count, data.numClasses]);
  return {
    batch(n) {
      const idx = tf.tensor1d(next(n), "int32");
      return { x: tf.gather(xs, idx).reshape([n, ...split.featureShape]), y: tf.gather(ys, idx) };
    },
    dispose() {
      tf.dispose([xs, ys]);
    },
  };
}

/**
 * The held-out inputs fidelity is measured on: the test split, or when training is augmented,
 * `HELD_OUT_VIEWS` seeded augmented views of each test image (a fixed stream, the same every run).
 */
export function heldOutInputs(data: Dataset, augmented: boolean): { x: Float32Array; count: number } {
  if (!augmented || data.kind !== "image") return { x: data.test.x, count: data.test.count };
  const rng = createRng(1, "held-out views");
  const idx = Int32Array.from({ length: data.test.count * HELD_OUT_VIEWS }, (_, i) => i % data.test.count);
  return { x: inputsOf(data, data.test, idx, rng), count: idx.length };
}
