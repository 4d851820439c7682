import type * as tfTypes from "@tensorflow/tfjs";
import { createRng, permutation } from "../core/rng.js";
import { ProvmarkError } from "../errors.js";
import type { TF } from "../model/backend.js";
import { type ImageDataset, pixelsPerExample, takeExamples } from "../model/datasets/dataset.js";
import { isKernelWeight, kernelLayers, listLayers } from "../model/layers.js";

/** A fresh model with the same topology and a copy of the weights (the caller disposes it). */
export async function cloneModel(tf: TF, model: tfTypes.LayersModel): Promise<tfTypes.LayersModel> {
  const modelTopology = model.toJSON(null, false) as tfTypes.io.ModelJSON["modelTopology"];
  const copy = await tf.models.modelFromJSON({ modelTopology } as tfTypes.io.ModelJSON);
  // setWeights assigns: the copy's variables share the source's buffers until either is written.
  copy.setWeights(model.getWeights());
  return copy;
}

/** Whether a weight is a kernel, depthwise ones included (the weights pruning and weight noise act on). */
export const isKernel = isKernelWeight;

/**
 * Rewrites some float weights of a model in place: `fn` gets each weight's values and returns the
 * new values, or undefined to leave it unchanged. Reads all first, so `fn` may look at all of them.
 */
export function rewriteWeights(
  tf: TF,
  model: tfTypes.LayersModel,
  select: (w: tfTypes.LayerVariable) => boolean,
  fn: (values: Float32Array[], weights: tfTypes.LayerVariable[]) => (Float32Array | undefined)[],
): void {
  const weights = model.weights.filter((w) => w.dtype === "float32" && select(w));
  const values = weights.map((w) => (w.read() as tfTypes.Tensor).dataSync() as Float32Array);
  const next = fn(values, weights);
  weights.forEach((w, i) => {
    const v = next[i];
    if (v === undefined) return;
    const t = tf.tensor(v, w.shape as number[]);
    w.write(t);
    t.dispose();
  });
}

/** Zeroes weights where the mask is 0 (masks in the order of `weights`). */
export function applyMasks(tf: TF, weights: tfTypes.LayerVariable[], masks: Uint8Array[]): void {
  weights.forEach((w, i) => {
    const mask = masks[i] as Uint8Array;
    const v = ((w.read() as tfTypes.Tensor).dataSync() as Float32Array).slice();
    for (let j = 0; j < v.length; j++) if (mask[j] === 0) v[j] = 0;
    const t = tf.tensor(v, w.shape as number[]);
    w.write(t);
    t.dispose();
  });
}

/** The last layer that has a kernel (the classifier head), inside nested models too. */
export function lastKernelLayer(model: tfTypes.LayersModel): tfTypes.layers.Layer {
  const last = kernelLayers(model).at(-1);
  if (last === undefined) {
    throw new ProvmarkError("LAYER_NOT_FOUND", "the model has no layer with a kernel", {
      hints: ["Fine-tuning attacks re-train the classifier layer; this model has none TF.js can find."],
    });
  }
  return last.layer;
}

/** Re-initialises a layer: Glorot-uniform kernel from `seed`, zero bias. */
export function reinitLayer(tf: TF, layer: tfTypes.layers.Layer, seed: number): void {
  for (const w of layer.weights) {
    const shape = w.shape as number[];
    const t = tf.tidy(() =>
      isKernel(w) ? tf.initializers.glorotUniform({ seed }).apply(shape) : tf.zeros(shape, "float32"),
    );
    w.write(t);
    t.dispose();
  }
}

/** A seeded random `fraction` of the training split (the test split is kept whole). */
export function subsetDataset(data: ImageDataset, fraction: number, seed: number): ImageDataset {
  if (fraction >= 1) return data;
  const n = Math.max(1, Math.round(fraction * data.train.count));
  const order = permutation(data.train.count, createRng(seed, "lab-subset")).subarray(0, n);
  return { ...data, train: takeExamples(data.train, order, pixelsPerExample(data)) };
}

/**
 * Makes only `head` trainable (the other layers at every depth frozen) and returns a function that
 * restores every flag. Leaves are set, not the nested models, because freezing a nested model
 * freezes everything inside it.
 */
export function trainOnly(model: tfTypes.LayersModel, head: tfTypes.layers.Layer): () => void {
  const leaves = listLayers(model).filter((l) => !l.container);
  const saved = leaves.map((l) => l.layer.trainable);
  for (const l of leaves) l.layer.trainable = l.layer === head;
  return () =>
    leaves.forEach((l, i) => {
      l.layer.trainable = saved[i] as boolean;
    });
}
