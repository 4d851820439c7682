import type { ModelIO } from "../core/input/model-io.js";
import { isProvmarkError } from "../errors.js";
import { backendChoice, loadTf } from "../model/backend.js";
import { chooseCarrierLayer } from "../model/choose-carrier.js";
import { loadDataset } from "../model/datasets/index.js";
import { disposeModel } from "../model/dispose-model.js";
import { loadLayersModel } from "../model/fs-io-handler.js";
import { describeModelIO, type ModelIOOverrides } from "../model/infer-io.js";
import { resolveKernelLayer } from "../model/layers.js";
import { locateModel } from "../model/locate.js";
import { readModelMetadata } from "../model/model-metadata.js";

export interface ModelKeyPlan {
  io: ModelIO;
  layer: string;
  carrierLength: number;
  /** Why each choice, one sentence each: printed by keygen (and in --json). */
  reasons: { io: string[]; carrier: string[] };
}

/**
 * What a key for `modelDir` must say: its input model (inferred, with the user's overrides; tabular
 * models take their feature ranges from a csv dataset) and its carrier layer (chosen, or the user's
 * `layer` resolved to its full path).
 */
export async function planKeyForModel(
  modelDir: string,
  o: { overrides: ModelIOOverrides; layer?: string; bits: number; dataset?: string; labelColumn?: string },
): Promise<ModelKeyPlan> {
  const loc = await locateModel(modelDir);
  const metadata = await readModelMetadata(loc.dir);
  const { tf } = await loadTf(backendChoice());
  const model = await loadLayersModel(tf, modelDir);
  try {
    let overrides = o.overrides;
    let inferred: ReturnType<typeof describeModelIO>;
    try {
      inferred = describeModelIO(model, { metadata, overrides, modelPath: modelDir });
    } catch (e) {
      // A tabular model's feature ranges come from the owner's data, not from its files.
      if (!isProvmarkError(e, "VECTOR_RANGES_REQUIRED") || !o.dataset?.startsWith("csv:")) throw e;
      const data = await loadDataset(o.dataset, {
        accept: "any",
        ...(o.labelColumn ? { labelColumn: o.labelColumn } : {}),
        ...(overrides.classNames ? { classNames: overrides.classNames } : {}),
      });
      if (data.io.input.kind !== "vector") throw e;
      overrides = {
        ...overrides,
        ranges: data.io.input.ranges,
        ...(data.io.input.featureNames ? { featureNames: data.io.input.featureNames } : {}),
      };
      inferred = describeModelIO(model, { metadata, overrides, modelPath: modelDir });
      inferred.reasons.push(`feature ranges measured on the training split of ${o.dataset}`);
    }
    if (o.layer !== undefined) {
      const l = resolveKernelLayer(model, o.layer, modelDir);
      return {
        io: inferred.io,
        layer: l.path,
        carrierLength: l.kernel.carrierLength,
        reasons: { io: inferred.reasons, carrier: [`--layer ${o.layer} resolves to ${l.path}`] },
      };
    }
    const c = chooseCarrierLayer(model, { bits: o.bits, modelPath: modelDir });
    return {
      io: inferred.io,
      layer: c.layer,
      carrierLength: c.carrierLength,
      reasons: { io: inferred.reasons, carrier: c.reasons },
    };
  } finally {
    disposeModel(model);
  }
}
