import { createAdam } from "../model/adam.js";
import { ARCH_DEFAULTS, type Arch, buildModel } from "../model/archs.js";
import type { TF } from "../model/backend.js";
import type { ImageDataset } from "../model/datasets/dataset.js";
import { fitModel } from "../model/train-loop.js";
import { subsetDataset } from "./model-ops.js";
import { type ScoreContext, scoreModel } from "./score-model.js";

export interface NullBankOptions {
  /** How many independent unmarked models to train (>= 20 for a calibration worth reporting). */
  models: number;
  /** Architectures, used in turn (default mlp, mlp-small). */
  archs?: Arch[];
  /** Epochs per model (default: each architecture's default). */
  epochs?: number;
  /** Each model trains on its own seeded random fraction of the training split (default 0.5). */
  dataFraction?: number;
  /** First seed; model i uses seed + i (default 10_000). */
  seed?: number;
  onProgress?: (message: string) => void;
}

export interface NullModel {
  arch: Arch;
  seed: number;
  epochs: number;
  dataFraction: number;
  accuracy: number;
  triggerMatches: number;
  triggers: number;
  triggerPValue: number;
  triggerLog10PValue: number;
  weightBitErrors: number | null;
  weightBits: number;
  weightLog10PValue: number | null;
  combinedLog10PValue: number;
}

export interface NullBankSummary {
  models: number;
  archs: Arch[];
  /** Null match probability of one trigger (1/C for noise triggers). */
  expectedMatchRate: number;
  meanFalseMatchRate: number;
  maxFalseMatchRate: number;
  /** Trigger matches → number of models. */
  triggerMatchHistogram: Record<string, number>;
  /** Weight bit errors → number of models (models with the key's layer). */
  bitErrorHistogram: Record<string, number>;
  minTriggerLog10PValue: number;
  minWeightLog10PValue: number | null;
  minCombinedLog10PValue: number;
  /** Models whose combined (Bonferroni) p-value reaches each level. */
  atAlpha: { "1e-6": number; "1e-3": number };
}

export interface NullBankResult {
  models: NullModel[];
  summary: NullBankSummary;
}

/**
 * Trains independent unmarked models (seeds, architectures, data subsets all differ) and scores each
 * against the key: the empirical null of trigger matches and weight bit errors, and how close any
 * comes to a false accusation. Every model and optimizer is disposed.
 */
export async function runNullBank(
  tf: TF,
  data: ImageDataset,
  ctx: ScoreContext,
  o: NullBankOptions,
): Promise<NullBankResult> {
  const archs = o.archs ?? ["mlp", "mlp-small"];
  const fraction = o.dataFraction ?? 0.5;
  const models: NullModel[] = [];
  for (let i = 0; i < o.models; i++) {
    const arch = archs[i % archs.length] as Arch;
    const seed = (o.seed ?? 10_000) + i;
    const d = ARCH_DEFAULTS[arch];
    const epochs = o.epochs ?? d.epochs;
    const model = buildModel(tf, arch, data.inputShape, data.numClasses, seed);
    const optimizer = createAdam(tf, d.learningRate);
    try {
      model.compile({ optimizer, loss: "categoricalCrossentropy" });
      await fitModel(tf, model, subsetDataset(data, fraction, seed), {
        epochs,
        batchSize: d.batchSize,
        seed,
        maxShift: d.maxShift,
        lrDecay: d.lrDecay,
      });
      const s = scoreModel(tf, model, ctx);
      models.push({
        arch,
        seed,
        epochs,
        dataFraction: fraction,
        accuracy: s.accuracy,
        triggerMatches: s.triggerMatches,
        triggers: s.triggers,
        triggerPValue: s.triggerPValue,
        triggerLog10PValue: s.triggerLog10PValue,
        weightBitErrors: s.weightBitErrors,
        weightBits: s.weightBits,
        weightLog10PValue: s.weightLog10PValue,
        combinedLog10PValue: s.combinedLog10PValue,
      });
      o.onProgress?.(
        `null ${i + 1}/${o.models} ${arch} seed ${seed}: acc ${(s.accuracy * 100).toFixed(1)}%, ` +
          `${s.triggerMatches}/${s.triggers} triggers, ${s.weightBitErrors ?? "-"}/${s.weightBits} bit errors`,
      );
    } finally {
      optimizer.dispose();
      model.dispose();
    }
  }
  return { models, summary: summarizeNullBank(models, archs, ctx.key.params.io.classes.count) };
}

/** The empirical null of a bank: histograms, the largest false match rate, counts at α. */
export function summarizeNullBank(models: NullModel[], archs: Arch[], classes: number): NullBankSummary {
  const hist = (vals: number[]) => {
    const h: Record<string, number> = {};
    for (const v of [...vals].sort((a, b) => a - b)) h[String(v)] = (h[String(v)] ?? 0) + 1;
    return h;
  };
  const rates = models.map((m) => m.triggerMatches / m.triggers);
  const weightPs = models.flatMap((m) => (m.weightLog10PValue === null ? [] : [m.weightLog10PValue]));
  const combined = models.map((m) => m.combinedLog10PValue);
  return {
    models: models.length,
    archs,
    expectedMatchRate: 1 / classes,
    meanFalseMatchRate: rates.length === 0 ? 0 : rates.reduce((a, b) => a + b, 0) / rates.length,
    maxFalseMatchRate: rates.length === 0 ? 0 : Math.max(...rates),
    triggerMatchHistogram: hist(models.map((m) => m.triggerMatches)),
    bitErrorHistogram: hist(models.flatMap((m) => (m.weightBitErrors === null ? [] : [m.weightBitErrors]))),
    minTriggerLog10PValue: Math.min(0, ...models.map((m) => m.triggerLog10PValue)),
    minWeightLog10PValue: weightPs.length === 0 ? null : Math.min(...weightPs),
    minCombinedLog10PValue: Math.min(0, ...combined),
    atAlpha: {
      "1e-6": combined.filter((p) => p <= -6).length,
      "1e-3": combined.filter((p) => p <= -3).length,
    },
  };
}
