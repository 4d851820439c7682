import type * as tfTypes from "@tensorflow/tfjs";
import { createAdam } from "../model/adam.js";
import type { TF } from "../model/backend.js";
import type { ImageDataset } from "../model/datasets/dataset.js";
import { fitModel } from "../model/train-loop.js";
import type { FinepruneParams, FinetuneParams } from "./lab-types.js";
import {
  applyMasks,
  isKernel,
  lastKernelLayer,
  reinitLayer,
  rewriteWeights,
  subsetDataset,
  trainOnly,
} from "./model-ops.js";
import { pruneMasks } from "./weight-transforms.js";

/**
 * Fine-tuning removal attacks of the robustness literature, in place on `model`: FTLL / FTAL train
 * the last / all layers; RTLL / RTAL first re-initialise the last layer. Adam from
 * `learningRate`, multiplied by `lrDecay` after each epoch, on a seeded `dataFraction` of the
 * training split. `afterEpoch` runs after every epoch (fine-pruning re-applies its mask there).
 * @example await finetuneAttackInPlace(tf, stolen, data, { mode: "FTAL", epochs: 5, learningRate: 1e-3, lrDecay: 1, dataFraction: 1, batchSize: 128 }, 7)
 */
export async function finetuneAttackInPlace(
  tf: TF,
  model: tfTypes.LayersModel,
  data: ImageDataset,
  p: FinetuneParams,
  seed: number,
  afterEpoch?: () => void,
): Promise<void> {
  const head = lastKernelLayer(model);
  if (p.mode.startsWith("RT")) reinitLayer(tf, head, seed * 7919 + 1);
  const restore = p.mode.endsWith("LL") ? trainOnly(model, head) : () => {};
  const optimizer = createAdam(tf, p.learningRate);
  try {
    model.compile({ optimizer, loss: "categoricalCrossentropy" });
    await fitModel(tf, model, subsetDataset(data, p.dataFraction, seed), {
      epochs: p.epochs,
      batchSize: p.batchSize,
      seed,
      lrDecay: p.lrDecay,
      ...(afterEpoch ? { onEpoch: () => afterEpoch() } : {}),
    });
  } finally {
    // model.dispose() would leave Adam's slot variables alive.
    optimizer.dispose();
    restore();
  }
}

/** Magnitude pruning in place: zeroes the `fraction` smallest kernel weights (global or per layer). */
export function pruneInPlace(tf: TF, model: tfTypes.LayersModel, p: { scope: "global" | "layer"; fraction: number }) {
  let masks: Uint8Array[] = [];
  let kernels: tfTypes.LayerVariable[] = [];
  rewriteWeights(tf, model, isKernel, (values, weights) => {
    kernels = weights;
    masks = pruneMasks(values, p.fraction, p.scope);
    return values.map((v, i) => {
      const m = masks[i] as Uint8Array;
      return v.map((x, j) => (m[j] === 0 ? 0 : x));
    });
  });
  return { kernels, masks };
}

/** Fine-pruning (Liu et al. 2018, weight-level): prune, then fine-tune all layers keeping pruned weights at 0. */
export async function finepruneInPlace(
  tf: TF,
  model: tfTypes.LayersModel,
  data: ImageDataset,
  p: FinepruneParams,
  seed: number,
): Promise<void> {
  const { kernels, masks } = pruneInPlace(tf, model, p);
  const reapply = () => applyMasks(tf, kernels, masks);
  await finetuneAttackInPlace(
    tf,
    model,
    data,
    {
      mode: "FTAL",
      epochs: p.epochs,
      learningRate: p.learningRate,
      lrDecay: 1,
      dataFraction: p.dataFraction,
      batchSize: 128,
    },
    seed,
    reapply,
  );
  reapply();
}
