import type * as tfTypes from "@tensorflow/tfjs";
import type { ImageInput } from "../core/input/model-io.js";
import { permutation, type Rng } from "../core/rng.js";
import { ProvmarkError } from "../errors.js";
import type { TF } from "../model/backend.js";
import { dropoutReseeder } from "../model/train-loop.js";

/** The surrogate's training set, grown as answers arrive: model inputs and soft or one-hot targets. */
export class TrainingSet {
  x: Float32Array;
  y: Float32Array;
  count = 0;
  readonly #px: number;
  readonly #classes: number;

  constructor(px: number, classes: number, capacity: number) {
    this.#px = px;
    this.#classes = classes;
    this.x = new Float32Array(Math.max(1, capacity) * px);
    this.y = new Float32Array(Math.max(1, capacity) * classes);
  }

  add(input: Float32Array, target: ArrayLike<number>): void {
    if ((this.count + 1) * this.#px > this.x.length) {
      const grow = (a: Float32Array, n: number) => {
        const b = new Float32Array(a.length * 2 + n);
        b.set(a);
        return b;
      };
      this.x = grow(this.x, this.#px);
      this.y = grow(this.y, this.#classes);
    }
    this.x.set(input, this.count * this.#px);
    this.y.set(target, this.count * this.#classes);
    this.count++;
  }
}

/** The training target for one answer: one-hot top-1, or the score vector as probabilities. */
export function answerTarget(
  answer: { label: number; scores?: number[] },
  classes: number,
  soft: boolean,
): Float32Array {
  const t = new Float32Array(classes);
  if (!soft || answer.scores === undefined) {
    t[answer.label] = 1;
    return t;
  }
  const s = answer.scores;
  const sum = s.reduce((a, b) => a + b, 0);
  // Probabilities are used as given; anything else (logits) goes through a softmax.
  if (s.every((v) => v >= 0) && Math.abs(sum - 1) < 1e-3) {
    for (let i = 0; i < classes; i++) t[i] = (s[i] as number) / sum;
    return t;
  }
  const m = Math.max(...s);
  let z = 0;
  for (let i = 0; i < classes; i++) z += Math.exp((s[i] as number) - m);
  for (let i = 0; i < classes; i++) t[i] = Math.exp((s[i] as number) - m) / z;
  return t;
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  shape: readonly [number, number, number];
  classes: number;
  rng: Rng;
  /** After each batch: examples done in this call, of epochs × count. */
  onBatch?: (done: number, total: number) => void;
}

/**
 * Trains the surrogate on the set so far (cross-entropy against the targets, the optimizer's
 * state kept across calls so JBDA rounds continue where the last one stopped). Seeded shuffles.
 */
export async function trainOnAnswers(
  tf: TF,
  model: tfTypes.LayersModel,
  optimizer: tfTypes.Optimizer,
  set: TrainingSet,
  o: TrainOptions,
): Promise<void> {
  const px = o.shape[0] * o.shape[1] * o.shape[2];
  const C = o.classes;
  const n = set.count;
  const vars = model.trainableWeights.map((w) => w.read() as tfTypes.Variable);
  const reseed = dropoutReseeder(model);
  const xb = new Float32Array(o.batchSize * px);
  const yb = new Float32Array(o.batchSize * C);
  let done = 0;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    const order = permutation(n, o.rng);
    for (let s = 0; s < n; s += o.batchSize) {
      const m = Math.min(o.batchSize, n - s);
      for (let i = 0; i < m; i++) {
        const j = order[s + i] as number;
        xb.set(set.x.subarray(j * px, (j + 1) * px), i * px);
        yb.set(set.y.subarray(j * C, (j + 1) * C), i * C);
      }
      reseed(o.rng);
      const loss = tf.tidy(() => {
        const x = tf.tensor(xb.subarray(0, m * px), [m, ...o.shape]);
        const y = tf.tensor2d(yb.subarray(0, m * C), [m, C]);
        return optimizer.minimize(
          () => {
            const pred = model.apply(x, { training: true }) as tfTypes.Tensor;
            return tf.metrics.categoricalCrossentropy(y, pred).mean() as tfTypes.Scalar;
          },
          true,
          vars,
        ) as tfTypes.Scalar;
      });
      const v = (await loss.data())[0] as number;
      loss.dispose();
      if (!Number.isFinite(v)) {
        throw new ProvmarkError("TRAINING_DIVERGED", `the surrogate's loss became ${v} in epoch ${epoch + 1}`, {
          hints: ["Lower --epochs or check that the API's scores are finite."],
        });
      }
      done += m;
      o.onBatch?.(done, n * o.epochs);
    }
  }
}

/**
 * Papernot et al. (2017) Jacobian-based dataset augmentation: each image moved by `lambda` (in [0,1]
 * pixel units, signed) along sign(∂F(x)[y]/∂x), F the surrogate and y the API's label, clipped to
 * [0, 1] and quantized to bytes for the wire. The sign is taken in pixel space, so a preprocessing
 * with a negative scale does not flip it.
 */
export function jacobianAugment(
  tf: TF,
  model: tfTypes.LayersModel,
  images: readonly Uint8Array[],
  labels: readonly number[],
  spec: ImageInput,
  lambda: number,
  toInput: (pixels: Uint8Array) => Float32Array,
): Uint8Array[] {
  const shape = [spec.height, spec.width, spec.channels] as const;
  const px = shape[0] * shape[1] * shape[2];
  const flip = spec.preprocess.type === "affine" && spec.preprocess.scale < 0 ? -1 : 1;
  const out: Uint8Array[] = [];
  const B = 128;
  for (let s = 0; s < images.length; s += B) {
    const m = Math.min(B, images.length - s);
    const flat = new Float32Array(m * px);
    for (let i = 0; i < m; i++) flat.set(toInput(images[s + i] as Uint8Array), i * px);
    const grad = tf.tidy(() => {
      const x = tf.tensor(flat, [m, ...shape]);
      const mask = tf.oneHot(tf.tensor1d(labels.slice(s, s + m), "int32"), model.outputs[0]?.shape[1] ?? 0);
      const g = tf.grad((xi: tfTypes.Tensor) => (model.apply(xi) as tfTypes.Tensor).mul(mask).sum())(x);
      return g.sign().dataSync() as Float32Array;
    });
    for (let i = 0; i < m; i++) {
      const src = images[s + i] as Uint8Array;
      const img = new Uint8Array(px);
      for (let k = 0; k < px; k++) {
        const v = (src[k] as number) / 255 + lambda * flip * (grad[i * px + k] as number);
        img[k] = Math.round(Math.min(1, Math.max(0, v)) * 255);
      }
      out.push(img);
    }
  }
  return out;
}
