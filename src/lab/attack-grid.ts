import { ARCH_DEFAULTS, type Arch } from "../model/archs.js";
import { inputTransformLabel } from "./input-transforms.js";
import type { AttackFamily, AttackSetting, FinetuneMode } from "./lab-types.js";
import { quantizeLabel } from "./weight-transforms.js";

export interface GridOptions {
  /** A small grid (a few settings per family) for smoke runs and tests. */
  quick?: boolean;
  /** The victim's training learning rate (FT at "the training rate"). */
  trainLearningRate: number;
  /** Epochs for fine-tuning attacks (default 5; `quick` 2). */
  finetuneEpochs?: number;
  /** Epochs for the distillation surrogate (default 10; `quick` 3). */
  distillEpochs?: number;
  victimArch: Arch;
  /** Overwrite: the attacker's max embedding epochs (provmark's default 4). */
  overwriteMaxEpochs?: number;
}

/** The default settings of each family: the full grid, or a small one with `quick`. */
export function attackGrid(families: readonly AttackFamily[], o: GridOptions): AttackSetting[] {
  const q = o.quick ?? false;
  const lr = o.trainLearningRate;
  const ftEpochs = o.finetuneEpochs ?? (q ? 2 : 5);
  const grid: AttackSetting[] = [];
  const ft = (mode: FinetuneMode, learningRate: number, lrDecay: number, dataFraction = 1): AttackSetting => ({
    family: "finetune",
    params: { mode, epochs: ftEpochs, learningRate, lrDecay, dataFraction, batchSize: 128 },
  });
  for (const family of families) {
    switch (family) {
      case "finetune":
        for (const mode of ["FTLL", "FTAL", "RTLL", "RTAL"] as const) grid.push(ft(mode, lr, 1));
        // The high learning-rate schedule reported to remove watermarks: start at 10× and decay.
        for (const mode of q ? (["FTAL"] as const) : (["FTAL", "RTAL"] as const)) grid.push(ft(mode, lr * 10, 0.5));
        if (!q) grid.push(ft("FTAL", lr, 1, 0.1), ft("FTAL", lr * 10, 0.5, 0.1));
        break;
      case "prune":
        for (const scope of ["global", "layer"] as const) {
          for (const fraction of q ? [0.3, 0.6, 0.9] : [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) {
            grid.push({ family, params: { scope, fraction } });
          }
        }
        break;
      case "fineprune":
        for (const fraction of q ? [0.6] : [0.5, 0.7, 0.9]) {
          grid.push({
            family,
            params: { scope: "global", fraction, epochs: q ? 1 : 2, learningRate: lr, dataFraction: 1 },
          });
        }
        break;
      case "quantize":
        for (const bits of q ? [6, 4] : [8, 6, 5, 4]) grid.push({ family, params: { kind: "linear", bits } });
        grid.push({ family, params: { kind: "float16" } });
        for (const bits of q ? ([8] as const) : ([8, 16] as const))
          grid.push({ family, params: { kind: "affine", bits } });
        break;
      case "noise":
        for (const scale of q ? [0.1, 1] : [0.03, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5])
          grid.push({ family, params: { scale } });
        break;
      case "input":
        for (const sigma of q ? [0.1] : [0.05, 0.1, 0.2]) grid.push({ family, params: { kind: "noise", sigma } });
        grid.push({ family, params: { kind: "blur", radius: 1 } });
        for (const factor of q ? [2] : [2, 4]) grid.push({ family, params: { kind: "downsample", factor } });
        for (const bits of q ? [2] : [4, 2, 1]) grid.push({ family, params: { kind: "pixel-quantize", bits } });
        break;
      case "distill": {
        // Always another architecture than the victim's (a CNN victim gets the MLP surrogate),
        // trained at the surrogate's own training rate.
        const arch: Arch = o.victimArch === "mlp" ? "mlp-small" : "mlp";
        const learningRate = ARCH_DEFAULTS[arch].learningRate;
        for (const answers of ["labels", "probabilities"] as const) {
          grid.push({
            family,
            params: { answers, arch, epochs: o.distillEpochs ?? (q ? 3 : 10), learningRate, dataFraction: 1 },
          });
        }
        break;
      }
      case "overwrite":
        for (const lambda of q ? [0.01] : [0.01, 0.1]) {
          grid.push({ family, params: { lambda, maxEpochs: o.overwriteMaxEpochs ?? 4 } });
        }
        break;
    }
  }
  return grid;
}

const pct = (f: number) => `${Math.round(f * 100)}%`;

/** A short human-readable name for a setting (the `attack` column of the results). */
export function settingLabel(s: AttackSetting): string {
  switch (s.family) {
    case "finetune": {
      const p = s.params;
      const sched = p.lrDecay === 1 ? `lr=${p.learningRate}` : `lr=${p.learningRate}×${p.lrDecay}/epoch`;
      return `${p.mode} ${sched} ${p.epochs} ep, ${pct(p.dataFraction)} data`;
    }
    case "prune":
      return `${s.params.scope} prune ${pct(s.params.fraction)}`;
    case "fineprune":
      return `${s.params.scope} prune ${pct(s.params.fraction)} + FTAL ${s.params.epochs} ep`;
    case "quantize":
      return quantizeLabel(s.params);
    case "noise":
      return `weight noise ${s.params.scale}·std`;
    case "input":
      return inputTransformLabel(s.params);
    case "distill":
      return `distill ${s.params.answers} → ${s.params.arch}, ${s.params.epochs} ep`;
    case "overwrite":
      return `overwrite λ=${s.params.lambda}`;
  }
}
