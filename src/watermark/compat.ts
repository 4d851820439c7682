import type * as tfTypes from "@tensorflow/tfjs";
import { classCount, modelInputShape, type WatermarkParams } from "../core/watermark/params.js";
import { ProvmarkError } from "../errors.js";
import type { Dataset } from "../model/datasets/dataset.js";
import { resolveKernelLayer } from "../model/layers.js";

/** Input shape (without batch) and class count of a classifier. */
export function modelSignature(model: tfTypes.LayersModel): { inputShape: number[]; classes: number } {
  const input = model.inputs[0]?.shape.slice(1) ?? [];
  const output = model.outputs[0]?.shape ?? [];
  return { inputShape: input.map((d) => d ?? -1), classes: output.at(-1) ?? -1 };
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

export function assertKeyFitsModel(
  params: WatermarkParams,
  model: tfTypes.LayersModel,
  modelPath: string,
  keyPath: string,
) {
  const sig = modelSignature(model);
  const shape = modelInputShape(params);
  if (!same(sig.inputShape, shape) || sig.classes !== classCount(params)) {
    throw new ProvmarkError(
      "KEY_MODEL_MISMATCH",
      `the key ${keyPath} is for input [${shape}] with ${classCount(params)} classes, ` +
        `but ${modelPath} takes [${sig.inputShape}] with ${sig.classes} classes`,
      { subject: keyPath, hints: ["Make a key for this model: provmark keygen --input-shape ... --classes ..."] },
    );
  }
}

export function assertDatasetFitsModel(data: Dataset, model: tfTypes.LayersModel, modelPath: string) {
  const sig = modelSignature(model);
  if (!same(sig.inputShape, data.inputShape) || sig.classes < data.numClasses) {
    throw new ProvmarkError(
      "DATASET_MODEL_MISMATCH",
      `dataset ${data.name} has input [${data.inputShape}] with ${data.numClasses} classes, ` +
        `but ${modelPath} takes [${sig.inputShape}] with ${sig.classes} classes`,
      { subject: data.name, hints: ["Use the dataset the model was trained on."] },
    );
  }
}

export interface Carrier {
  /** Full path of the carrier layer (e.g. `sequential_3/dense_Dense1`). */
  layer: string;
  kernel: tfTypes.LayerVariable;
  shape: number[];
  /** Carrier length: kernel size divided by its output axis. */
  length: number;
}

/**
 * The kernel that carries the weight watermark, found at any depth of nested models by full path or
 * unique short name (model/layers.ts), and checked to be large enough.
 */
export function findCarrier(model: tfTypes.LayersModel, layer: string, bits: number, modelPath: string): Carrier {
  const target = resolveKernelLayer(model, layer, modelPath);
  const { shape, carrierLength: length } = target.kernel;
  if (bits > length) {
    throw new ProvmarkError(
      "LAYER_TOO_SMALL",
      `layer ${target.path} of ${modelPath} carries ${length} values (kernel [${shape}] averaged over its last axis), fewer than the ${bits} bits of the key`,
      { subject: layer, hints: ["Use a key with fewer --bits, or a layer with more inputs."] },
    );
  }
  return { layer: target.path, kernel: target.kernel.variable, shape: [...shape], length };
}
