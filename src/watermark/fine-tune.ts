import type * as tfTypes from "@tensorflow/tfjs";
import { createRng, permutation } from "../core/rng.js";
import type { Trigger } from "../core/watermark/triggers.js";
import { carrierOf, countBitErrors, extractBits } from "../core/watermark/weight-mark.js";
import { ProvmarkError } from "../errors.js";
import { createAdam } from "../model/adam.js";
import { listLayers } from "../model/layers.js";
import { dropoutReseeder } from "../model/train-loop.js";
import type { CleanSource } from "./clean-source.js";
import type { Carrier } from "./compat.js";
import { AUTO_EPOCHS, type EmbedSettings, SMALL_DATASET, SMALL_DATASET_STEPS } from "./embed-defaults.js";
import { labelsOf } from "./trigger-tensors.js";

type TF = typeof tfTypes;

/** Steps between checks of both marks (a check costs about one step); embedding stops once they have held for two checks in a row. */
const CHECK_EVERY = 8;

export interface TuneInput {
  model: tfTypes.LayersModel;
  /** The part trained: the head after a frozen prefix whose outputs are cached, or the whole model. */
  forward: (x: tfTypes.Tensor, training: boolean) => tfTypes.Tensor;
  clean: CleanSource;
  /** Triggers as `forward` takes them, and their labels. */
  trigX: tfTypes.Tensor;
  triggers: readonly Trigger[];
  numClasses: number;
  carrier: Carrier;
  projection: Float32Array;
  message: Uint8Array;
  s: EmbedSettings;
  /** Clean examples a step trains on, and steps in one epoch. */
  cleanPerBatch: number;
  stepsPerEpoch: number;
  /** Upper bound on steps (see {@link maxSteps}). */
  maxSteps: number;
  onStep?: (done: number, total: number) => void;
}

export interface TuneResult {
  triggerAccuracy: number;
  bitErrors: number;
  epochs: number;
  steps: number;
  trainedWeights: number;
}

/**
 * One schedule for every dataset size: an epoch is whichever is longer, a pass over the clean
 * training examples or a pass over the triggers, so 18 images and 356 triggers still take enough
 * steps for every trigger to be learnt.
 */
export function stepsPerEpoch(trainCount: number, cleanPerBatch: number, triggers: number, perBatch: number): number {
  return Math.max(Math.ceil(trainCount / cleanPerBatch), Math.ceil(triggers / perBatch));
}

/** The step budget of `maxEpochs`: "auto" is 4 epochs, or on a small dataset at least 2,400 steps. */
export function maxSteps(maxEpochs: EmbedSettings["maxEpochs"], perEpoch: number, trainCount: number): number {
  if (maxEpochs !== "auto") return perEpoch * maxEpochs;
  const epochs = AUTO_EPOCHS * perEpoch;
  return trainCount < SMALL_DATASET ? Math.max(epochs, perEpoch * Math.ceil(SMALL_DATASET_STEPS / perEpoch)) : epochs;
}

/**
 * Embeds both marks in one fine-tune: each step mixes clean examples with triggers (key-derived
 * inputs and labels), and the loss adds λ·BCE(sigmoid(X·w̄), b) on the carrier.
 */
export async function fineTune(tf: TF, t: TuneInput): Promise<TuneResult> {
  const { s, triggers, carrier } = t;
  const T = t.message.length;
  const X = tf.tensor2d(t.projection, [T, carrier.length]);
  const b = tf.tensor1d(Float32Array.from(t.message));
  const trigY = tf.tidy(() =>
    tf.oneHot(tf.tensor1d(Int32Array.from(triggers.map((x) => x.label)), "int32"), t.numClasses),
  );
  const optimizer = createAdam(tf, s.learningRate);
  const vars = trainedVariables(t.model, carrier, s.freeze);
  const reseed = dropoutReseeder(t.model);
  const rng = createRng(s.seed, "embed");
  const perBatch = Math.max(1, Math.round(s.batchSize * s.triggerRatio));
  const total = t.maxSteps;
  let trigOrder = permutation(triggers.length, rng);
  let trigPos = 0;
  let state = { triggerAccuracy: 0, bitErrors: T };
  let step = 0;
  let heldChecks = 0;
  try {
    while (step < total) {
      const pick = new Int32Array(perBatch);
      for (let i = 0; i < perBatch; i++) {
        if (trigPos === trigOrder.length) {
          trigOrder = permutation(triggers.length, rng);
          trigPos = 0;
        }
        pick[i] = trigOrder[trigPos++] as number;
      }
      reseed(rng);
      const cost: tfTypes.Scalar = tf.tidy(() => {
        const idx = tf.tensor1d(pick, "int32");
        const clean = t.clean.batch(t.cleanPerBatch);
        const x = tf.concat([clean.x, tf.gather(t.trigX, idx)]);
        const y = tf.concat([clean.y, tf.gather(trigY, idx)]);
        return optimizer.minimize(
          () => {
            const pred = t.forward(x, true);
            const ce = tf.metrics.categoricalCrossentropy(y, pred).mean();
            // The sum over outputs has the mean's signs (extraction is unchanged) without its 1/out
            // factor, which would otherwise let the task loss drown the mark in wide layers.
            const w = (carrier.kernel.read() as tfTypes.Tensor).sum(-1).reshape([carrier.length, 1]);
            const logits = tf.matMul(X, w).reshape([T]);
            return ce.add(tf.losses.sigmoidCrossEntropy(b, logits).mul(s.lambda)) as tfTypes.Scalar;
          },
          true,
          vars,
        ) as tfTypes.Scalar;
      });
      const loss = (await cost.data())[0];
      cost.dispose();
      if (loss === undefined || !Number.isFinite(loss)) {
        throw new ProvmarkError("TRAINING_DIVERGED", `embedding loss became ${loss}`, {
          hints: ["Lower --lambda or the learning rate."],
        });
      }
      step++;
      t.onStep?.(step, total);
      if (step % CHECK_EVERY === 0 || step % t.stepsPerEpoch === 0 || step === total) {
        state = measure(tf, t);
        heldChecks = state.triggerAccuracy === 1 && state.bitErrors === 0 ? heldChecks + 1 : 0;
        if (heldChecks >= 2) break;
      }
    }
  } finally {
    optimizer.dispose();
    tf.dispose([X, b, trigY]);
  }
  t.onStep?.(total, total);
  return { ...state, epochs: step / t.stepsPerEpoch, steps: step, trainedWeights: vars.length };
}

/**
 * The variables fine-tuning updates: with "before-carrier", those of the carrier layer and every
 * layer after it (in the model's topological order, nested models walked), so a pretrained backbone
 * before the carrier keeps its weights and costs no weight gradients.
 */
export function trainedVariables(
  model: tfTypes.LayersModel,
  carrier: Carrier,
  freeze: EmbedSettings["freeze"],
): tfTypes.Variable[] {
  const all = model.trainableWeights;
  if (freeze === "none") return all.map((w) => w.read() as tfTypes.Variable);
  const leaves = listLayers(model).filter((l) => l.container === false);
  const at = leaves.findIndex((l) => l.path === carrier.layer);
  if (at < 0) return all.map((w) => w.read() as tfTypes.Variable);
  const keep = new Set(leaves.slice(at).flatMap((l) => l.layer.trainableWeights.map((w) => w.id)));
  return all.filter((w) => keep.has(w.id)).map((w) => w.read() as tfTypes.Variable);
}

/** Trigger accuracy and bit errors of the model as it is now. */
function measure(tf: TF, t: TuneInput): { triggerAccuracy: number; bitErrors: number } {
  const labels = labelsOf(tf, t.forward, t.trigX);
  const hits = t.triggers.filter((x, i) => labels[i] === x.label).length;
  const kernel = (t.carrier.kernel.read() as tfTypes.Tensor).dataSync() as Float32Array;
  const bits = extractBits(t.projection, carrierOf(kernel, t.carrier.shape), t.message.length);
  return { triggerAccuracy: hits / t.triggers.length, bitErrors: countBitErrors(bits, t.message) };
}
