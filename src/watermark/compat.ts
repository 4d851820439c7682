import type * as tfTypes from "@tensorflow/tfjs";
import { classCount, modelInputShape, type WatermarkParams } from "../core/watermark/params.js";
import { ProvmarkError } from "../errors.js";
import type { Dataset } from "../model/datasets/dataset.js";

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
  kernel: tfTypes.LayerVariable;
  shape: number[];
  /** Carrier length: kernel size divided by its output axis. */
  length: number;
}

/** The kernel that carries the weight watermark, checked to exist and to be large enough. */
export function findCarrier(model: tfTypes.LayersModel, layer: string, bits: number, modelPath: string): Carrier {
  const kernels = model.layers.filter((l) => l.weights.some((w) => /\/kernel$/.test(w.originalName)));
  const target = kernels.find((l) => l.name === layer);
  if (target === undefined) {
    throw new ProvmarkError("LAYER_NOT_FOUND", `${modelPath} has no layer ${JSON.stringify(layer)} with a kernel`, {
      subject: layer,
      hints: [
        `Layers with kernels: ${kernels.map((l) => l.name).join(", ") || "(none)"}; choose one with --layer at keygen.`,
      ],
    });
  }
  const kernel = target.weights.find((w) => /\/kernel$/.test(w.originalName)) as tfTypes.LayerVariable;
  const shape = kernel.shape.map((d) => d ?? 0);
  const length = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (bits > length) {
    throw new ProvmarkError(
      "LAYER_TOO_SMALL",
      `layer ${layer} of ${modelPath} carries ${length} values (kernel [${shape}] averaged over outputs), fewer than the ${bits} bits of the key`,
      { subject: layer, hints: ["Use a key with fewer --bits, or a layer with more inputs."] },
    );
  }
  return { kernel, shape, length };
}
