import type * as tfTypes from "@tensorflow/tfjs";
import { toModelInput } from "../core/input/model-io.js";
import { logBinomialTail, logPoissonBinomialTail, pValueFromLog } from "../core/stats/binomial.js";
import { pixelCount, type WatermarkKey } from "../core/watermark/params.js";
import { deriveTriggers } from "../core/watermark/triggers.js";
import { decide } from "../core/watermark/verdict.js";
import { carrierOf, countBitErrors, extractBits, weightSecrets } from "../core/watermark/weight-mark.js";
import { isProvmarkError } from "../errors.js";
import type { TF } from "../model/backend.js";
import type { Dataset, Split } from "../model/datasets/dataset.js";
import { accuracy } from "../model/train-loop.js";
import { findCarrier } from "../watermark/compat.js";
import { predictLabels } from "../watermark/trigger-tensors.js";
import type { Score } from "./lab-types.js";

/** What scoring needs from the key, derived once per lab run. */
export interface ScoreContext {
  key: WatermarkKey;
  data: Dataset;
  alpha: number;
  /** Trigger inputs as the model takes them (the key's preprocessing), count × values. */
  triggerPixels: Float32Array;
  triggerLabels: Int32Array;
  nullProbabilities: number[];
  /** The weight mark's projection and message, per carrier length (v2 binds them to it). */
  secrets: Map<number, { projection: Float32Array; message: Uint8Array }>;
}

export function scoreContext(key: WatermarkKey, data: Dataset, alpha: number): ScoreContext {
  const triggers = deriveTriggers(key);
  const px = pixelCount(key.params);
  const triggerPixels = new Float32Array(triggers.length * px);
  triggers.forEach((t, i) => {
    triggerPixels.set(toModelInput(key.params.io.input, t.input), i * px);
  });
  return {
    key,
    data,
    alpha,
    triggerPixels,
    triggerLabels: Int32Array.from(triggers, (t) => t.label),
    nullProbabilities: triggers.map((t) => t.nullProbability),
    secrets: new Map(),
  };
}

export interface ScoreOptions {
  /** Preprocesses trigger inputs and the test set (the thief's query-time transform). */
  transform?: (x: Float32Array) => Float32Array;
  /** Decide on the trigger test alone (black-box scenarios). */
  triggerOnly?: boolean;
}

/**
 * The in-memory counterpart of `verifyModel` (same statistics, same Bonferroni verdict) plus test
 * accuracy, for models the lab holds in memory. Every tensor it makes is disposed.
 */
export function scoreModel(tf: TF, model: tfTypes.LayersModel, ctx: ScoreContext, opts: ScoreOptions = {}): Score {
  const { params } = ctx.key;
  const shape = ctx.data.inputShape;
  const pixels = opts.transform ? opts.transform(ctx.triggerPixels) : ctx.triggerPixels;
  const x = tf.tensor(pixels, [ctx.triggerLabels.length, ...shape]);
  const labels = predictLabels(tf, model, x);
  x.dispose();
  const triggerMatches = labels.reduce((a, l, i) => a + (l === ctx.triggerLabels[i] ? 1 : 0), 0);
  const tp = pValueFromLog(logPoissonBinomialTail(ctx.nullProbabilities, triggerMatches));
  const test: Split = opts.transform
    ? { x: opts.transform(ctx.data.test.x), y: ctx.data.test.y, count: ctx.data.test.count }
    : ctx.data.test;
  const acc = accuracy(tf, model, test, ctx.data);
  let weight: { bitErrors: number; pValue: number; log10PValue: number } | null = null;
  try {
    const carrier = findCarrier(model, params.layer, params.bits, "(attacked model)");
    let secrets = ctx.secrets.get(carrier.length);
    if (secrets === undefined) {
      secrets = weightSecrets(ctx.key, carrier.length);
      ctx.secrets.set(carrier.length, secrets);
    }
    const kernel = (carrier.kernel.read() as tfTypes.Tensor).dataSync() as Float32Array;
    const bits = extractBits(secrets.projection, carrierOf(kernel, carrier.shape), params.bits);
    const bitErrors = countBitErrors(bits, secrets.message);
    weight = { bitErrors, ...pValueFromLog(logBinomialTail(params.bits, params.bits - bitErrors, 0.5)) };
  } catch (e) {
    const missing = ["LAYER_NOT_FOUND", "LAYER_AMBIGUOUS", "LAYER_TOO_SMALL"] as const;
    if (!missing.some((code) => isProvmarkError(e, code))) throw e;
  }
  const log10Ps = [tp.log10PValue, ...(weight && !opts.triggerOnly ? [weight.log10PValue] : [])];
  const d = decide(log10Ps, ctx.alpha);
  return {
    accuracy: acc,
    triggerMatches,
    triggers: ctx.triggerLabels.length,
    triggerPValue: tp.pValue,
    triggerLog10PValue: tp.log10PValue,
    weightBitErrors: weight?.bitErrors ?? null,
    weightBits: params.bits,
    weightPValue: weight?.pValue ?? null,
    weightLog10PValue: weight?.log10PValue ?? null,
    combinedLog10PValue: d.combinedLog10P,
    verdict: d.verdict,
  };
}
