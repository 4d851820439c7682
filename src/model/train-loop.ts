import type * as tfTypes from "@tensorflow/tfjs";
import { createRng, permutation } from "../core/rng.js";
import { ProvmarkError } from "../errors.js";
import { type Dataset, pixelsPerExample, type Split } from "./datasets/dataset.js";

type TF = typeof tfTypes;

export interface FitOptions {
  epochs: number;
  batchSize: number;
  seed: number;
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
export async function fit(tf: TF, model: tfTypes.LayersModel, data: Dataset, opts: FitOptions): Promise<EpochStats[]> {
  const pixels = pixelsPerExample(data);
  const { count } = data.train;
  const total = count * opts.epochs;
  const xb = new Float32Array(opts.batchSize * pixels);
  const yb = new Int32Array(opts.batchSize);
  const stats: EpochStats[] = [];
  let done = 0;
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    const started = performance.now();
    const order = permutation(count, createRng(opts.seed, `train-epoch-${epoch}`));
    let lossSum = 0;
    let batches = 0;
    for (let start = 0; start < count; start += opts.batchSize) {
      const n = Math.min(opts.batchSize, count - start);
      for (let i = 0; i < n; i++) {
        const j = order[start + i] as number;
        xb.set(data.train.x.subarray(j * pixels, (j + 1) * pixels), i * pixels);
        yb[i] = data.train.y[j] as number;
      }
      const [x, y] = tf.tidy(() => [
        tf.tensor(xb.subarray(0, n * pixels), [n, ...data.inputShape]),
        tf.oneHot(tf.tensor1d(yb.subarray(0, n), "int32"), data.numClasses),
      ]);
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
