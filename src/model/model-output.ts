import type * as tfTypes from "@tensorflow/tfjs";
import { ProvmarkError } from "../errors.js";
import { listLayers } from "./layers.js";

export interface OutputInfo {
  classes: number;
  /** The activation of the layer that produces the output (softmax, sigmoid, linear, ...), if it has one. */
  activation: string | undefined;
  reasons: string[];
}

const holds = (l: tfTypes.layers.Layer): l is tfTypes.LayersModel =>
  Array.isArray((l as { layers?: unknown }).layers) && Array.isArray((l as { outputs?: unknown }).outputs);

/** The leaf layer whose output is the model's, looking inside nested models. */
export function outputLayer(model: tfTypes.LayersModel): tfTypes.layers.Layer | undefined {
  let layer: tfTypes.layers.Layer | undefined = model.outputs[0]?.sourceLayer;
  while (layer !== undefined && holds(layer)) layer = layer.outputs[0]?.sourceLayer;
  return layer;
}

/**
 * The class count of a classifier: the last axis of its one output [batch, classes]. Top-1 is read
 * as the predicted class whatever the activation, which is reported.
 * @throws ProvmarkError MODEL_OUTPUT_UNSUPPORTED for several outputs, other ranks, unknown or single units
 */
export function describeOutput(model: tfTypes.LayersModel, shown: string): OutputInfo {
  const fail = (what: string, hint: string) =>
    new ProvmarkError("MODEL_OUTPUT_UNSUPPORTED", `${shown} ${what}`, { subject: shown, hints: [hint] });
  if (model.outputs.length !== 1) {
    throw fail(`has ${model.outputs.length} outputs`, "provmark reads classifiers with one output of class scores.");
  }
  const dims = (model.outputs[0] as tfTypes.SymbolicTensor).shape.slice(1);
  const classes = dims[0];
  if (dims.length !== 1 || classes === null || classes === undefined) {
    throw fail(
      `outputs shape [${dims.map((d) => d ?? "None").join(", ")}], not one vector of class scores`,
      "provmark reads classifiers whose output is [batch, classes].",
    );
  }
  const layer = outputLayer(model);
  const activation = layer === undefined ? undefined : activationOf(layer);
  if (classes < 2) {
    throw fail(
      `has a single output unit${activation ? ` (${activation})` : ""}`,
      "Binary classifiers with one sigmoid unit are not supported yet: trigger labels need two or more classes.",
    );
  }
  const how =
    activation === "softmax"
      ? "softmax"
      : activation === "sigmoid"
        ? "sigmoid: independent per-class scores, the highest is read as the class"
        : activation === undefined || activation === "linear"
          ? "no activation: scores are logits, the highest is read as the class"
          : `${activation} activation, the highest score is read as the class`;
  const path = listLayers(model).find((l) => l.layer === layer)?.path ?? layer?.name ?? "?";
  return { classes, activation, reasons: [`${classes} classes from the output layer ${path} (${how}).`] };
}

function activationOf(layer: tfTypes.layers.Layer): string | undefined {
  const name = layer.getClassName();
  if (name === "Softmax") return "softmax";
  const cfg = layer.getConfig() as { activation?: unknown };
  return typeof cfg.activation === "string" ? cfg.activation : undefined;
}
