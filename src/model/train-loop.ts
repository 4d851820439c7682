import type * as tfTypes from "@tensorflow/tfjs";
import { createRng, permutation, type Rng } from "../core/rng.js";
import { ProvmarkError } from "../errors.js";
import { type Dataset, type ImageDataset, pixelsPerExample, type Split } from "./datasets/dataset.js";

type TF = typeof tfTypes;

export interface FitOptions {
  epochs: number;
  batchSize: number;
  seed: number;
  /**
   * Random translation of each training image by up to this many pixels (seeded), a cheap
   * augmentation that makes small MNIST-sized training sets generalise markedly better. 0 = off.
   */
  maxShift?: number;
  /** Multiplies the optimizer's learning rate after every epoch (1 = constant). */
  lrDecay?: number;
  /** Called after every batch with examples done so far in the whole run. */
  onBatch?: (done: number, total: number, loss: number) => void;
  onEpoch?: (stats: EpochStats) => void;
}

export interface EpochStats {
  epoch: number;
  loss: number;
  seconds: number;
}

/**
 * Trains a compiled model with seeded per-epoch shuffling (TF.js's own shuffle is unseeded) and one
 * trainOnBatch per batch, disposing each batch's tensors.
 */
export async function fitModel(
  tf: TF,
  model: tfTypes.LayersModel,
  data: ImageDataset,
  opts: FitOptions,
): Promise<EpochStats[]> {
  const pixels = pixelsPerExample(data);
  const { count } = data.train;
  const total = count * opts.epochs;
  const xb = new Float32Array(opts.batchSize * pixels);
  const yb = new Int32Array(opts.batchSize);
  const stats: EpochStats[] = [];
  let done = 0;
  const reseed = dropoutReseeder(model);
  const dropoutRng = createRng(opts.seed, "train-dropout");
  const optimizer = model.optimizer as unknown as { learningRate?: number };
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    if (epoch > 0 && opts.lrDecay !== undefined && typeof optimizer.learningRate === "number") {
      optimizer.learningRate *= opts.lrDecay;
    }
    const started = performance.now();
    const order = permutation(count, createRng(opts.seed, `train-epoch-${epoch}`));
    const shiftRng = createRng(opts.seed, `train-shift-${epoch}`);
    let lossSum = 0;
    let batches = 0;
    for (let start = 0; start < count; start += opts.batchSize) {
      const n = Math.min(opts.batchSize, count - start);
      fillBatch(data.train, order, start, n, data.inputShape, xb, yb, { rng: shiftRng, max: opts.maxShift ?? 0 });
      const [x, y] = tf.tidy(() => [
        tf.tensor(xb.subarray(0, n * pixels), [n, ...data.inputShape]),
        tf.oneHot(tf.tensor1d(yb.subarray(0, n), "int32"), data.numClasses),
      ]);
      reseed(dropoutRng);
      let loss: number;
      try {
        const r = await model.trainOnBatch(x as tfTypes.Tensor, y as tfTypes.Tensor);
        loss = Array.isArray(r) ? (r[0] as number) : r;
      } finally {
        tf.dispose([x as tfTypes.Tensor, y as tfTypes.Tensor]);
      }
      if (!Number.isFinite(loss)) {
        throw new ProvmarkError("TRAINING_DIVERGED", `training loss became ${loss} in epoch ${epoch + 1}`, {
          hints: ["Lower the learning rate or check the dataset for corrupt values."],
        });
      }
      lossSum += loss;
      batches++;
      done += n;
      opts.onBatch?.(done, total, loss);
    }
    const s = { epoch: epoch + 1, loss: lossSum / batches, seconds: (performance.now() - started) / 1000 };
    stats.push(s);
    opts.onEpoch?.(s);
  }
  return stats;
}

/** Top-1 accuracy on a split, predicting in batches inside tidy(). */
export function accuracy(tf: TF, model: tfTypes.LayersModel, split: Split, data: Dataset, batchSize = 500): number {
  const pixels = pixelsPerExample(data);
  let correct = 0;
  for (let start = 0; start < split.count; start += batchSize) {
    const n = Math.min(batchSize, split.count - start);
    const pred = tf.tidy(() => {
      const x = tf.tensor(split.x.subarray(start * pixels, (start + n) * pixels), [n, ...data.inputShape]);
      return (model.predict(x) as tfTypes.Tensor).argMax(-1).dataSync();
    });
    for (let i = 0; i < n; i++) if (pred[i] === split.y[start + i]) correct++;
  }
  return split.count === 0 ? 0 : correct / split.count;
}

/**
 * Copies examples `order[start .. start + n)` of a split into the batch buffers; with a shift, each
 * image is translated by a seeded random offset of up to `max` pixels.
 */
export function fillBatch(
  split: Split,
  order: ArrayLike<number>,
  start: number,
  n: number,
  shape: readonly [number, number, number],
  xb: Float32Array,
  yb: Int32Array,
  shift?: { rng: Rng; max: number },
): void {
  const pixels = shape[0] * shape[1] * shape[2];
  const m = shift?.max ?? 0;
  for (let i = 0; i < n; i++) {
    const j = order[start + i] as number;
    const src = split.x.subarray(j * pixels, (j + 1) * pixels);
    const dst = xb.subarray(i * pixels, (i + 1) * pixels);
    if (shift && m > 0) shiftImage(src, dst, shape, shift.rng.int(2 * m + 1) - m, shift.rng.int(2 * m + 1) - m);
    else dst.set(src);
    yb[i] = split.y[j] as number;
  }
}

/**
 * A Dropout layer built with a seed draws the same mask on every call; calling the returned function
 * before each training step reseeds every Dropout layer from `rng`, giving fresh masks that are
 * still reproducible.
 */
export function dropoutReseeder(model: tfTypes.LayersModel): (rng: Rng) => void {
  const dropouts = model.layers.filter((l) => l.getClassName() === "Dropout") as unknown as { seed?: number }[];
  return (rng) => {
    for (const d of dropouts) d.seed = rng.int(2 ** 31);
  };
}

/** Copies an HxWxC image translated by (dx, dy) pixels, filling uncovered pixels with 0. */
export function shiftImage(
  src: Float32Array,
  dst: Float32Array,
  [h, w, c]: readonly [number, number, number],
  dx: number,
  dy: number,
): void {
  dst.fill(0);
  for (let y = Math.max(0, dy); y < Math.min(h, h + dy); y++) {
    const from = ((y - dy) * w + Math.max(0, -dx)) * c;
    const to = (y * w + Math.max(0, dx)) * c;
    dst.set(src.subarray(from, from + (w - Math.abs(dx)) * c), to);
  }
}
