import type * as tfTypes from "@tensorflow/tfjs";
import { createRng } from "../core/rng.js";
import type { Trigger } from "../core/watermark/triggers.js";
import type { Dataset } from "../model/datasets/dataset.js";
import { disposeModel } from "../model/dispose-model.js";
import { loadLayersModel } from "../model/fs-io-handler.js";
import {
  type CleanSource,
  featurePool,
  heldOutInputs,
  poolFits,
  type SourceOptions,
  streamingSource,
} from "./clean-source.js";
import type { Carrier } from "./compat.js";
import type { EmbedSettings } from "./embed-defaults.js";
import { fineTune, maxSteps, stepsPerEpoch, type TuneResult } from "./fine-tune.js";
import { applyLayers, splitAtCarrier } from "./split-at-carrier.js";
import { labelsOf, triggerInputs } from "./trigger-tensors.js";

type TF = typeof tfTypes;

/** Examples the frozen prefix runs on at once. */
const PREFIX_CHUNK = 32;

/** What embedding is doing: computing the frozen prefix's outputs once, or fine-tuning. */
export type EmbedPhase = "features" | "fine-tune";

export interface TuneRequest {
  data: Dataset;
  triggers: readonly Trigger[];
  projection: Float32Array;
  message: Uint8Array;
  s: EmbedSettings;
  augmented: boolean;
  /** Train clean examples towards the original model's probabilities. */
  teacher: boolean;
  /** Where the original model is read from again when a separate teacher copy is needed. */
  modelPath: string;
  onProgress?: (phase: EmbedPhase, done: number, total: number) => void;
}

export interface TunedModel extends TuneResult {
  /** Fraction of the held-out inputs answered as the original model answered them. */
  agreement: number;
  heldOut: number;
  /** Whether the frozen prefix ran once per example (its outputs held), rather than on every step. */
  cachedFeatures: boolean;
}

/**
 * Fine-tunes `model` in place. When layers before the carrier stay frozen and the model is a chain
 * of root layers, they run once per example in inference mode (as they will when serving), and only
 * the head is trained on their outputs: for a pretrained backbone that is most of the cost saved.
 */
export async function tuneModel(
  tf: TF,
  model: tfTypes.LayersModel,
  carrier: Carrier,
  r: TuneRequest,
): Promise<TunedModel> {
  const { data, s } = r;
  const split = s.freeze === "before-carrier" ? splitAtCarrier(model, carrier.layer) : null;
  const featureSize = split?.featureShape.reduce((a, b) => a * b, 1) ?? 0;
  const cut = split !== null && poolFits(data.train.count, r.augmented, featureSize) ? split : null;
  const forward = cut
    ? (x: tfTypes.Tensor, training: boolean) => applyLayers(cut.head, x, training)
    : (x: tfTypes.Tensor, training: boolean) => model.apply(x, { training }) as tfTypes.Tensor;
  // In chunks: a whole trigger set of 224×224 images in one batch exhausts the wasm heap.
  const toHead = (x: Float32Array, n: number, shape: readonly number[]): tfTypes.Tensor => {
    if (!cut) return tf.tensor(x, [n, ...shape]);
    const size = shape.reduce((a, b) => a * b, 1);
    const parts: tfTypes.Tensor[] = [];
    for (let s = 0; s < n; s += PREFIX_CHUNK) {
      const m = Math.min(PREFIX_CHUNK, n - s);
      parts.push(
        tf.tidy(() => applyLayers(cut.prefix, tf.tensor(x.subarray(s * size, (s + m) * size), [m, ...shape]), false)),
      );
    }
    const all = parts.length === 0 ? tf.zeros([0, ...(cut.featureShape as number[])]) : tf.concat(parts);
    tf.dispose(parts);
    return all;
  };

  const held = heldOutInputs(data, r.augmented);
  const heldX = toHead(held.x, held.count, data.inputShape);
  const trigX = toHead(triggerInputs(r.triggers, data.io), r.triggers.length, data.inputShape);
  const original = labelsOf(tf, forward, heldX, 64);

  const options: SourceOptions = { data, augmented: r.augmented, teacher: r.teacher, rng: createRng(s.seed, "clean") };
  let teacherCopy: tfTypes.LayersModel | null = null;
  let clean: CleanSource | undefined;
  try {
    if (cut) {
      clean = featurePool(tf, options, cut, (d, t) => r.onProgress?.("features", d, t));
    } else {
      if (r.teacher) teacherCopy = await loadLayersModel(tf, r.modelPath);
      clean = streamingSource(tf, options, teacherCopy);
    }
    const perBatch = Math.max(1, Math.round(s.batchSize * s.triggerRatio));
    // Augmented views let a step hold more clean examples than there are images.
    const cleanPerBatch = r.augmented ? s.batchSize : Math.min(s.batchSize, data.train.count);
    const perEpoch = stepsPerEpoch(data.train.count, cleanPerBatch, r.triggers.length, perBatch);
    const result = await fineTune(tf, {
      model,
      forward,
      clean,
      trigX,
      triggers: r.triggers,
      numClasses: data.numClasses,
      carrier,
      projection: r.projection,
      message: r.message,
      s,
      cleanPerBatch,
      stepsPerEpoch: perEpoch,
      maxSteps: maxSteps(s.maxEpochs, perEpoch, data.train.count),
      ...(r.onProgress ? { onStep: (d: number, t: number) => r.onProgress?.("fine-tune", d, t) } : {}),
    });
    const after = labelsOf(tf, forward, heldX, 64);
    const agreement = held.count === 0 ? 1 : after.filter((l, i) => l === original[i]).length / held.count;
    return { ...result, agreement, heldOut: held.count, cachedFeatures: cut !== null };
  } finally {
    clean?.dispose();
    if (teacherCopy) disposeModel(teacherCopy);
    tf.dispose([heldX, trigX]);
  }
}
