import type * as tfTypes from "@tensorflow/tfjs";
import { createRng, permutation } from "../core/rng.js";
import { createAdam } from "../model/adam.js";
import { buildModel } from "../model/archs.js";
import type { TF } from "../model/backend.js";
import { type ImageDataset, pixelsPerExample } from "../model/datasets/dataset.js";
import { dropoutReseeder } from "../model/train-loop.js";
import type { DistillParams } from "./lab-types.js";
import { subsetDataset } from "./model-ops.js";

const BATCH = 128;

/** The victim's answers to unlabeled inputs, as targets: one-hot top-1 labels or probabilities. */
export function victimAnswers(
  tf: TF,
  victim: tfTypes.LayersModel,
  data: ImageDataset,
  answers: DistillParams["answers"],
) {
  const px = pixelsPerExample(data);
  const n = data.train.count;
  const C = data.numClasses;
  const out = new Float32Array(n * C);
  for (let s = 0; s < n; s += 500) {
    const m = Math.min(500, n - s);
    const probs = tf.tidy(() => {
      const x = tf.tensor(data.train.x.subarray(s * px, (s + m) * px), [m, ...data.inputShape]);
      const p = (victim.predict(x) as tfTypes.Tensor).slice([0, 0], [m, C]);
      return (answers === "labels" ? tf.oneHot(p.argMax(-1), C).toFloat() : p).dataSync() as Float32Array;
    });
    out.set(probs, s * C);
  }
  return out;
}

/**
 * Model extraction through the API: the thief queries the victim on unlabeled images (the training
 * split, its labels ignored) and trains a surrogate of another architecture on the answers (top-1
 * labels, or full probability vectors). Returns the surrogate; the caller disposes it.
 */
export async function distillSurrogate(
  tf: TF,
  victim: tfTypes.LayersModel,
  data: ImageDataset,
  p: DistillParams,
  seed: number,
): Promise<tfTypes.LayersModel> {
  const queries = subsetDataset(data, p.dataFraction, seed);
  const targets = victimAnswers(tf, victim, queries, p.answers);
  const px = pixelsPerExample(data);
  const C = data.numClasses;
  const n = queries.train.count;
  const surrogate = buildModel(tf, p.arch, data.inputShape, C, seed);
  const optimizer = createAdam(tf, p.learningRate);
  const vars = () => surrogate.trainableWeights.map((w) => w.read() as tfTypes.Variable);
  const reseed = dropoutReseeder(surrogate);
  const rng = createRng(seed, "lab-distill");
  const xb = new Float32Array(BATCH * px);
  const yb = new Float32Array(BATCH * C);
  try {
    for (let epoch = 0; epoch < p.epochs; epoch++) {
      const order = permutation(n, rng);
      for (let s = 0; s < n; s += BATCH) {
        const m = Math.min(BATCH, n - s);
        for (let i = 0; i < m; i++) {
          const j = order[s + i] as number;
          xb.set(queries.train.x.subarray(j * px, (j + 1) * px), i * px);
          yb.set(targets.subarray(j * C, (j + 1) * C), i * C);
        }
        reseed(rng);
        tf.tidy(() => {
          const x = tf.tensor(xb.subarray(0, m * px), [m, ...data.inputShape]);
          const y = tf.tensor2d(yb.subarray(0, m * C), [m, C]);
          optimizer.minimize(
            () => {
              const pred = surrogate.apply(x, { training: true }) as tfTypes.Tensor;
              return tf.metrics.categoricalCrossentropy(y, pred).mean() as tfTypes.Scalar;
            },
            false,
            vars(),
          );
        });
      }
    }
    return surrogate;
  } catch (e) {
    surrogate.dispose();
    throw e;
  } finally {
    optimizer.dispose();
  }
}
