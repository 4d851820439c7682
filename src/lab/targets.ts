import type { LabRow } from "./lab-types.js";

export interface TargetCheck {
  target: string;
  /** true: the watermark survived every matching setting; false: at least one removed it; null: no row matched. */
  met: boolean | null;
  /** The matching settings and what happened to each. */
  settings: {
    attack: string;
    outcome: "detected" | "removed" | "model-ruined" | "missed-alpha";
    accuracyDropPp: number;
    combinedLog10PValue: number;
  }[];
}

/** "Survives" = detected at p ≤ 1e-6 with the model still within 5 pp of the marked accuracy. */
const SURVIVE_LOG10 = -6;

function outcome(r: LabRow): TargetCheck["settings"][number]["outcome"] {
  if (r.combinedLog10PValue <= SURVIVE_LOG10) return "detected";
  if (r.accuracyDropPp > 5) return "model-ruined";
  return r.removed ? "removed" : "missed-alpha";
}

/**
 * Checks the robustness targets: the watermark is still found at p ≤ 1e-6 after pruning up to 60%,
 * 6-bit quantization, float16, FTAL for 5 epochs at the training rate, and weight noise that costs
 * at most 1 pp. An attack that ruins the model (> 5 pp lost) does not count against a target.
 */
export function checkTargets(rows: readonly LabRow[], trainLearningRate: number): TargetCheck[] {
  const check = (target: string, pick: (r: LabRow) => boolean): TargetCheck => {
    const settings = rows.filter(pick).map((r) => ({
      attack: r.attack,
      outcome: outcome(r),
      accuracyDropPp: r.accuracyDropPp,
      combinedLog10PValue: r.combinedLog10PValue,
    }));
    const met =
      settings.length === 0 ? null : settings.every((s) => s.outcome === "detected" || s.outcome === "model-ruined");
    return { target, met, settings };
  };
  const params = (r: LabRow) => r.params as unknown as Record<string, unknown>;
  return [
    check(
      "pruning up to 60% (global and per layer)",
      (r) => r.family === "prune" && (params(r).fraction as number) <= 0.6,
    ),
    check("6-bit quantization", (r) => r.family === "quantize" && params(r).kind === "linear" && params(r).bits === 6),
    check("float16", (r) => r.family === "quantize" && params(r).kind === "float16"),
    check(
      "FTAL 5 epochs at the training learning rate",
      (r) =>
        r.family === "finetune" &&
        params(r).mode === "FTAL" &&
        params(r).epochs === 5 &&
        params(r).lrDecay === 1 &&
        params(r).dataFraction === 1 &&
        Math.abs((params(r).learningRate as number) - trainLearningRate) < 1e-12,
    ),
    check("weight noise costing <= 1 pp accuracy", (r) => r.family === "noise" && r.accuracyDropPp <= 1),
  ];
}
