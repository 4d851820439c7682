import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs";
import { keyCommitment } from "../core/keys/derive.js";
import { createRng } from "../core/rng.js";
import type { WatermarkKey } from "../core/watermark/params.js";
import { ARCH_DEFAULTS, type Arch } from "../model/archs.js";
import { assertOutputFree, writeDirAtomic } from "../model/atomic-write.js";
import { type BackendChoice, loadTf, type TF } from "../model/backend.js";
import type { ImageDataset } from "../model/datasets/dataset.js";
import { loadDataset } from "../model/datasets/index.js";
import { loadLayersModel } from "../model/fs-io-handler.js";
import { assertDatasetFitsModel, assertKeyFitsModel } from "../watermark/compat.js";
import { DEFAULT_ALPHA } from "../watermark/verify.js";
import { attackGrid, type GridOptions, settingLabel } from "./attack-grid.js";
import { distillSurrogate } from "./distill.js";
import { finepruneInPlace, finetuneAttackInPlace, pruneInPlace } from "./finetune.js";
import { transformImages } from "./input-transforms.js";
import { ATTACK_FAMILIES, type AttackFamily, type AttackSetting, type LabRow, type Score } from "./lab-types.js";
import { cloneModel, isKernel, rewriteWeights } from "./model-ops.js";
import { type NullBankOptions, type NullBankResult, runNullBank } from "./null-bank.js";
import { overwriteAttack } from "./overwrite.js";
import { renderReport } from "./report-html.js";
import { type ScoreContext, type ScoreOptions, scoreContext, scoreModel } from "./score-model.js";
import { checkTargets, type TargetCheck } from "./targets.js";
import { addGaussianNoise, quantizeValues } from "./weight-transforms.js";

export const LAB_SCHEMA = "provmark/robustness/v1";
export const RESULTS_FILE = "results.json";
export const REPORT_FILE = "report.html";

export interface LabRequest {
  /** The marked model's directory. */
  model: string;
  key: WatermarkKey;
  dataset: string;
  /** Output directory (results.json + report.html), written atomically. */
  out: string;
  force?: boolean;
  /** Families to run (default all); ignored when `grid` is given. */
  families?: readonly AttackFamily[];
  quick?: boolean;
  /** Explicit settings instead of the default grid. */
  grid?: AttackSetting[];
  /** Overrides for the default grid (epochs of fine-tuning, distillation, overwriting). */
  gridOptions?: Partial<GridOptions>;
  alpha?: number;
  seed?: number;
  /** Train a null bank of this many unmarked models (0 = none). */
  nullBank?: Omit<NullBankOptions, "onProgress">;
  backend: BackendChoice;
  onProgress?: (message: string) => void;
}

export interface LabResult {
  schema: typeof LAB_SCHEMA;
  createdAt: string;
  model: string;
  keyCommitment: string;
  dataset: string;
  backend: string;
  alpha: number;
  seed: number;
  victimArch: Arch | "unknown";
  trainLearningRate: number;
  baseline: {
    accuracy: number;
    triggerPValue: number;
    triggerLog10PValue: number;
    weightPValue: number | null;
    weightLog10PValue: number | null;
    verdict: Score["verdict"];
  };
  rows: LabRow[];
  targets: TargetCheck[];
  nullBank?: NullBankResult;
  seconds: number;
}

/**
 * The robustness lab: attacks a marked model the way a thief would (each setting on a fresh copy),
 * scores every attacked model (test accuracy, trigger and weight p-values, verdict at α), optionally
 * calibrates against a bank of unmarked models, and writes results.json and a self-contained
 * report.html. An attack "removes" the watermark when the verdict misses α while accuracy stays
 * within 5 pp of the marked model.
 * @example await runLab({ model: "marked", key, dataset: "mnist", out: "lab", families: ["prune"], backend: "auto" })
 */
export async function runLab(req: LabRequest): Promise<LabResult> {
  await assertOutputFree(req.out, req.force ?? false, "Choose another --out, or pass --force to replace it.");
  const started = performance.now();
  const { tf } = await loadTf(req.backend);
  const data = await loadDataset(req.dataset);
  const alpha = req.alpha ?? DEFAULT_ALPHA;
  const seed = req.seed ?? 1;
  const log = req.onProgress ?? (() => {});
  const marked = await loadLayersModel(tf, req.model);
  const workDir = await mkdtemp(join(tmpdir(), "provmark-lab-"));
  try {
    assertKeyFitsModel(req.key.params, marked, req.model, "(key)");
    assertDatasetFitsModel(data, marked, req.model);
    const meta = (marked.getUserDefinedMetadata() as { provmark?: { arch?: string } } | undefined)?.provmark;
    const victimArch = meta?.arch !== undefined && meta.arch in ARCH_DEFAULTS ? (meta.arch as Arch) : "unknown";
    const trainLearningRate = victimArch === "unknown" ? 1e-3 : ARCH_DEFAULTS[victimArch].learningRate;
    const ctx = scoreContext(req.key, data, alpha);
    const base = scoreModel(tf, marked, ctx);
    log(
      `marked model: acc ${(base.accuracy * 100).toFixed(2)}%, ${base.triggerMatches}/${base.triggers} triggers, ${base.weightBitErrors ?? "-"} bit errors, ${base.verdict}`,
    );
    const grid =
      req.grid ??
      attackGrid(req.families ?? ATTACK_FAMILIES, {
        quick: req.quick ?? false,
        trainLearningRate,
        victimArch: victimArch === "unknown" ? "mlp" : victimArch,
        ...req.gridOptions,
      });
    const rows: LabRow[] = [];
    for (const [i, setting] of grid.entries()) {
      const t0 = performance.now();
      const { model, score } = await attackOnce(tf, marked, setting, { req, data, ctx, seed: seed + i, workDir });
      model.dispose();
      const accuracyDropPp = (base.accuracy - score.accuracy) * 100;
      const row: LabRow = {
        family: setting.family,
        attack: settingLabel(setting),
        params: setting.params,
        ...score,
        accuracyDropPp,
        tests: setting.family === "input" ? "trigger" : "trigger+weight",
        removed: score.verdict !== "watermarked" && accuracyDropPp <= 5,
        seconds: (performance.now() - t0) / 1000,
      };
      rows.push(row);
      log(
        `[${i + 1}/${grid.length}] ${row.attack}: acc ${(row.accuracy * 100).toFixed(2)}% (drop ${accuracyDropPp.toFixed(2)} pp), ` +
          `triggers ${row.triggerMatches}/${row.triggers} log10p ${row.triggerLog10PValue.toFixed(1)}, ` +
          `bits ${row.weightBitErrors ?? "-"}/${row.weightBits}, ${row.verdict}${row.removed ? " — REMOVED" : ""} (${row.seconds.toFixed(1)} s)`,
      );
    }
    let nullBank: NullBankResult | undefined;
    if (req.nullBank !== undefined && req.nullBank.models > 0) {
      nullBank = await runNullBank(tf, data, ctx, { ...req.nullBank, onProgress: log });
    }
    const result: LabResult = {
      schema: LAB_SCHEMA,
      createdAt: new Date().toISOString(),
      model: req.model,
      keyCommitment: Buffer.from(keyCommitment(req.key.seed)).toString("hex"),
      dataset: data.name,
      backend: tf.getBackend(),
      alpha,
      seed,
      victimArch,
      trainLearningRate,
      baseline: {
        accuracy: base.accuracy,
        triggerPValue: base.triggerPValue,
        triggerLog10PValue: base.triggerLog10PValue,
        weightPValue: base.weightPValue,
        weightLog10PValue: base.weightLog10PValue,
        verdict: base.verdict,
      },
      rows,
      targets: checkTargets(rows, trainLearningRate),
      ...(nullBank === undefined ? {} : { nullBank }),
      seconds: (performance.now() - started) / 1000,
    };
    await writeDirAtomic(
      req.out,
      async (tmp) => {
        await writeFile(join(tmp, RESULTS_FILE), `${JSON.stringify(result, null, 2)}\n`);
        await writeFile(join(tmp, REPORT_FILE), renderReport(result));
      },
      { overwrite: req.force ?? false },
    );
    return result;
  } finally {
    marked.dispose();
    await rm(workDir, { recursive: true, force: true });
  }
}

interface AttackEnv {
  req: LabRequest;
  data: ImageDataset;
  ctx: ScoreContext;
  seed: number;
  workDir: string;
}

/** Runs one setting on a fresh copy of the marked model and scores the result. */
async function attackOnce(
  tf: TF,
  marked: tfTypes.LayersModel,
  s: AttackSetting,
  env: AttackEnv,
): Promise<{ model: tfTypes.LayersModel; score: Score }> {
  const { data, ctx, seed } = env;
  const opts: ScoreOptions = {};
  let model: tfTypes.LayersModel;
  if (s.family === "distill") {
    model = await distillSurrogate(tf, marked, data, s.params, seed);
  } else if (s.family === "overwrite") {
    model = await overwriteAttack(tf, {
      model: env.req.model,
      dataset: env.req.dataset,
      ownerKey: env.req.key,
      params: s.params,
      workDir: env.workDir,
      seed,
      backend: env.req.backend,
    });
  } else {
    model = await cloneModel(tf, marked);
  }
  try {
    switch (s.family) {
      case "finetune":
        await finetuneAttackInPlace(tf, model, data, s.params, seed);
        break;
      case "prune":
        pruneInPlace(tf, model, s.params);
        break;
      case "fineprune":
        await finepruneInPlace(tf, model, data, s.params, seed);
        break;
      case "quantize":
        rewriteWeights(
          tf,
          model,
          () => true,
          (values) => values.map((v) => quantizeValues(v, s.params)),
        );
        break;
      case "noise": {
        const rng = createRng(seed, "lab-weight-noise");
        rewriteWeights(tf, model, isKernel, (values) => values.map((v) => addGaussianNoise(v, s.params.scale, rng)));
        break;
      }
      case "input": {
        const t = s.params;
        opts.transform = (x) => transformImages(x, data.inputShape, t, seed);
        opts.triggerOnly = true;
        break;
      }
      default:
        break;
    }
    return { model, score: scoreModel(tf, model, ctx, opts) };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
