import type * as tfTypes from "@tensorflow/tfjs";
import { PATH_SEPARATOR } from "../model/layers.js";

type Layer = tfTypes.layers.Layer;

/**
 * A Sequential model cut in two just before the root layer that holds the carrier: `prefix` (frozen
 * when fine-tuning stops before the carrier) and `head` (the carrier and everything after it).
 * The prefix runs once per example, in inference mode; the head alone is trained on its outputs.
 */
export interface CarrierSplit {
  readonly prefix: readonly Layer[];
  readonly head: readonly Layer[];
  /** Shape (without batch) of what the prefix outputs and the head takes. */
  readonly featureShape: readonly number[];
}

/**
 * The split of `model` at the root layer holding `carrierPath`, or null when there is nothing to cut
 * off (the carrier is in the first root layer) or the model is not a chain of root layers (a
 * functional graph: its layers cannot be run one after the other).
 */
export function splitAtCarrier(model: tfTypes.LayersModel, carrierPath: string): CarrierSplit | null {
  if (model.getClassName() !== "Sequential") return null;
  const rootName = carrierPath.split(PATH_SEPARATOR)[0];
  const layers = model.layers;
  const at = layers.findIndex((l) => l.name === rootName);
  if (at <= 0) return null;
  const prefix = layers.slice(0, at);
  const shape = (prefix.at(-1) as Layer).outputShape;
  if (!Array.isArray(shape) || Array.isArray(shape[0])) return null;
  const featureShape = (shape as (number | null)[]).slice(1);
  if (featureShape.some((d) => d === null)) return null;
  return { prefix, head: layers.slice(at), featureShape: featureShape as number[] };
}

/** Runs layers one after the other (call inside tidy()). */
export function applyLayers(layers: readonly Layer[], x: tfTypes.Tensor, training: boolean): tfTypes.Tensor {
  let h = x;
  for (const l of layers) h = l.apply(h, { training }) as tfTypes.Tensor;
  return h;
}
