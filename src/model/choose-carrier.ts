import type * as tfTypes from "@tensorflow/tfjs";
import { ProvmarkError } from "../errors.js";
import { type KernelLayer, kernelLayers } from "./layers.js";

/** Carrier values per message bit a layer should offer to be chosen without a warning. */
export const CARRIER_MARGIN = 4;
/** The longest message a key carries (params.ts), the default the choice is sized for. */
export const DEFAULT_CARRIER_BITS = 256;

export interface CarrierChoice {
  /** Full layer path, e.g. `sequential_3/dense_Dense1`. */
  layer: string;
  kernelShape: number[];
  carrierLength: number;
  /** Why this layer, one sentence each, for keygen's output. */
  reasons: string[];
}

const describe = (l: KernelLayer) => `${l.path} (${l.className}, kernel [${l.kernel.shape.join(",")}])`;

/**
 * Picks the layer whose kernel carries the weight mark. The rule, in order:
 * 1. never the output layer (the last layer with a kernel): its kernel maps features straight to class
 *    scores, so marking it costs accuracy first, and it is what a thief re-trains to re-purpose a model;
 * 2. only kernels that training the model updates (the layer and every model around it trainable);
 * 3. the one closest to the output whose carrier (kernel size over its last axis) holds at least
 *    CARRIER_MARGIN × `bits` values: late layers are the ones fine-tuning a pretrained model changes
 *    (Teachable Machine trains only its head), the backbone before them is often public weights a
 *    thief could restore unchanged, and embedding can freeze every layer before the carrier;
 * 4. if none is that large, the largest carrier of at least `bits` values (closest to the output on ties).
 * @throws ProvmarkError LAYER_NOT_FOUND when no layer but the output has a trainable kernel, LAYER_TOO_SMALL
 *   when no carrier holds `bits` values
 * @example chooseCarrierLayer(teachableMachineModel).layer // "sequential_3/dense_Dense1"
 */
export function chooseCarrierLayer(
  model: tfTypes.LayersModel,
  options: { bits?: number; modelPath?: string } = {},
): CarrierChoice {
  const bits = options.bits ?? DEFAULT_CARRIER_BITS;
  const shown = options.modelPath ?? "the model";
  const kernels = kernelLayers(model);
  const output = kernels.at(-1);
  const hidden = kernels.slice(0, -1);
  const candidates = hidden.filter((l) => l.trainable);
  if (output === undefined || candidates.length === 0) {
    const why =
      output === undefined
        ? "has no layer with a kernel"
        : hidden.length === 0
          ? `has a kernel only in its output layer ${output.path}`
          : `has no trainable layer with a kernel besides its output layer ${output.path}`;
    throw new ProvmarkError("LAYER_NOT_FOUND", `${shown} ${why}, so it cannot carry a weight mark`, {
      subject: shown,
      hints: ["The weight mark needs a hidden Dense or Conv layer that fine-tuning updates; trigger sets still work."],
    });
  }
  const wanted = CARRIER_MARGIN * bits;
  const roomy = candidates.filter((l) => l.kernel.carrierLength >= wanted);
  let pick = roomy.at(-1);
  if (pick === undefined) {
    const largest = Math.max(...candidates.map((l) => l.kernel.carrierLength));
    pick = candidates.filter((l) => l.kernel.carrierLength === largest).at(-1) as KernelLayer;
    if (largest < bits) {
      throw new ProvmarkError(
        "LAYER_TOO_SMALL",
        `no hidden layer of ${shown} carries ${bits} values: the largest is ${describe(pick)} with ${largest}`,
        { subject: shown, hints: [`Use a key with at most ${largest} bits.`] },
      );
    }
  }
  const len = pick.kernel.carrierLength;
  const ratio = Math.floor((len / bits) * 10) / 10;
  const reasons = [
    `${describe(pick)}: its carrier holds ${len} values, ${ratio}× the ${bits} bits of the mark` +
      (len >= wanted ? "." : `; no hidden layer reaches ${CARRIER_MARGIN}× (${wanted}), so this is the largest.`),
    `Never the output layer ${output.path}: its kernel maps features straight to class scores, so a mark there ` +
      "costs accuracy first, and a thief re-trains it to re-purpose the model.",
  ];
  const later = candidates.slice(candidates.indexOf(pick) + 1);
  if (later.length > 0) {
    const listed = later
      .slice(-5)
      .map((l) => `${l.path} (${l.kernel.carrierLength})`)
      .join(", ");
    reasons.push(`Closer to the output but smaller carriers: ${later.length > 5 ? "…, " : ""}${listed}.`);
  }
  if (len >= wanted) {
    reasons.push(
      `Closest to the output among carriers of at least ${wanted} values: fine-tuning updates late layers, a ` +
        "pretrained backbone before them may be public weights a thief could restore, and embedding can freeze " +
        "every layer before the carrier.",
    );
  }
  const parent = (l: KernelLayer) => l.path.slice(0, l.path.length - l.name.length);
  const head = candidates.filter((l) => parent(l) === parent(output)).at(-1);
  if (head !== undefined && parent(pick) !== parent(output)) {
    const fits = Math.floor(head.kernel.carrierLength / CARRIER_MARGIN);
    reasons.push(
      `It lies outside the model that holds the output layer (${parent(output).slice(0, -1) || "the root"}), ` +
        "likely in a pretrained backbone: if those weights are public, restoring them removes the mark" +
        (fits >= 1
          ? `; a key of at most ${fits} bits would fit ${head.path} with the ${CARRIER_MARGIN}× margin.`
          : "."),
    );
  }
  const frozen = hidden.length - candidates.length;
  if (frozen > 0) reasons.push(`Skipped ${frozen} layer(s) with frozen kernels: training would not update them.`);
  return { layer: pick.path, kernelShape: [...pick.kernel.shape], carrierLength: len, reasons };
}
