import type * as tfTypes from "@tensorflow/tfjs";
import { logBinomialTail, logPoissonBinomialTail, pValueFromLog } from "../core/stats/binomial.js";
import { classCount, type WatermarkKey } from "../core/watermark/params.js";
import { deriveTriggers, type Trigger } from "../core/watermark/triggers.js";
import { decide, empiricalPValue, type Verdict } from "../core/watermark/verdict.js";
import { carrierOf, countBitErrors, extractBits, weightSecrets } from "../core/watermark/weight-mark.js";
import { isProvmarkError } from "../errors.js";
import { type BackendChoice, loadTf } from "../model/backend.js";
import { disposeModel } from "../model/dispose-model.js";
import { loadLayersModel } from "../model/fs-io-handler.js";
import { assertKeyFitsModel, findCarrier } from "./compat.js";
import { predictLabels, triggerBatch } from "./trigger-tensors.js";

type TF = typeof tfTypes;

export const DEFAULT_ALPHA = 1e-6;

export interface TriggerTest {
  matches: number;
  n: number;
  pValue: number;
  log10PValue: number;
  /** Null match probability per family: 1/C (noise), 1/(C-1) (stamp, labels avoid the true class). */
  nullProbability: { noise: number; stamp: number };
  /** With --reference models: (1 + #refs with as many matches) / (1 + R). */
  empiricalPValue?: number;
  referenceMatches?: number[];
}

export type WeightTest =
  | {
      applicable: true;
      layer: string;
      bits: number;
      matches: number;
      bitErrors: number;
      pValue: number;
      log10PValue: number;
      empiricalPValue?: number;
      referenceMatches?: number[];
    }
  | { applicable: false; layer: string; reason: string };

export interface VerifyResult {
  model: string;
  verdict: Verdict;
  alpha: number;
  combinedLog10PValue: number;
  trigger: TriggerTest;
  weight: WeightTest;
  references: string[];
  backend: string;
}

export interface VerifyRequest {
  model: string;
  key: WatermarkKey;
  keyPath: string;
  references?: string[];
  alpha?: number;
  backend: BackendChoice;
}

interface Observation {
  triggerMatches: number;
  weight: { matches: number; bitErrors: number } | { reason: string };
}

/** Runs both tests against a local model (white box), with an empirical null from reference models. */
export async function verifyModel(req: VerifyRequest): Promise<VerifyResult> {
  const { tf } = await loadTf(req.backend);
  const alpha = req.alpha ?? DEFAULT_ALPHA;
  const triggers = deriveTriggers(req.key);
  const observe = async (path: string): Promise<Observation> => {
    const model = await loadLayersModel(tf, path);
    try {
      assertKeyFitsModel(req.key.params, model, path, req.keyPath);
      return observeModel(tf, model, path, req.key, triggers);
    } finally {
      disposeModel(model);
    }
  };
  const obs = await observe(req.model);
  const refs = [];
  for (const r of req.references ?? []) refs.push(await observe(r));

  const ps = triggers.map((t) => t.nullProbability);
  const tp = pValueFromLog(logPoissonBinomialTail(ps, obs.triggerMatches));
  const C = classCount(req.key.params);
  const trigger: TriggerTest = {
    matches: obs.triggerMatches,
    n: triggers.length,
    ...tp,
    nullProbability: { noise: 1 / C, stamp: req.key.params.derivation === "vrf/v2" ? 1 / C : 1 / (C - 1) },
  };
  if (refs.length > 0) {
    trigger.referenceMatches = refs.map((r) => r.triggerMatches);
    trigger.empiricalPValue = empiricalPValue(obs.triggerMatches, trigger.referenceMatches);
  }
  const { layer, bits } = req.key.params;
  let weight: WeightTest;
  if ("reason" in obs.weight) {
    weight = { applicable: false, layer, reason: obs.weight.reason };
  } else {
    const wp = pValueFromLog(logBinomialTail(bits, obs.weight.matches, 0.5));
    weight = { applicable: true, layer, bits, ...obs.weight, ...wp };
    const refMatches = refs.flatMap((r) => ("matches" in r.weight ? [r.weight.matches] : []));
    if (refMatches.length > 0) {
      weight.referenceMatches = refMatches;
      weight.empiricalPValue = empiricalPValue(obs.weight.matches, refMatches);
    }
  }
  const log10Ps = [trigger.log10PValue, ...(weight.applicable ? [weight.log10PValue] : [])];
  const d = decide(log10Ps, alpha);
  return {
    model: req.model,
    verdict: d.verdict,
    alpha,
    combinedLog10PValue: d.combinedLog10P,
    trigger,
    weight,
    references: req.references ?? [],
    backend: tf.getBackend(),
  };
}

function observeModel(
  tf: TF,
  model: tfTypes.LayersModel,
  path: string,
  key: WatermarkKey,
  triggers: readonly Trigger[],
): Observation {
  const x = triggerBatch(tf, triggers, key.params.io);
  const labels = predictLabels(tf, model, x);
  x.dispose();
  const triggerMatches = triggers.filter((t, i) => labels[i] === t.label).length;
  try {
    const carrier = findCarrier(model, key.params.layer, key.params.bits, path);
    const kernel = (carrier.kernel.read() as tfTypes.Tensor).dataSync() as Float32Array;
    const { projection, message } = weightSecrets(key, carrier.length);
    const bitErrors = countBitErrors(
      extractBits(projection, carrierOf(kernel, carrier.shape), message.length),
      message,
    );
    return { triggerMatches, weight: { matches: message.length - bitErrors, bitErrors } };
  } catch (e) {
    // A suspect whose architecture lacks the layer (or names it twice) is not an input error: the
    // weight test just cannot run.
    if (
      isProvmarkError(e, "LAYER_NOT_FOUND") ||
      isProvmarkError(e, "LAYER_AMBIGUOUS") ||
      isProvmarkError(e, "LAYER_TOO_SMALL")
    ) {
      return { triggerMatches, weight: { reason: e.message } };
    }
    throw e;
  }
}
