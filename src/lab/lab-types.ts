import type { Verdict } from "../core/watermark/verdict.js";
import type { Arch } from "../model/archs.js";
import type { InputTransform } from "./input-transforms.js";
import type { QuantizeMode } from "./weight-transforms.js";

export const ATTACK_FAMILIES = [
  "finetune",
  "prune",
  "fineprune",
  "quantize",
  "noise",
  "input",
  "distill",
  "overwrite",
] as const;
export type AttackFamily = (typeof ATTACK_FAMILIES)[number];

/** FT/RT = fine-tune / re-initialise then train the last layer; LL/AL = train the last / all layers. */
export type FinetuneMode = "FTLL" | "FTAL" | "RTLL" | "RTAL";

export interface FinetuneParams {
  mode: FinetuneMode;
  epochs: number;
  /** Adam's learning rate in the first epoch. */
  learningRate: number;
  /** Multiplies the learning rate after every epoch (a high-rate schedule starts high and decays). */
  lrDecay: number;
  /** Fraction of the training split the attacker has, in (0, 1]. */
  dataFraction: number;
  batchSize: number;
}

export interface PruneParams {
  scope: "global" | "layer";
  /** Fraction of kernel weights zeroed (smallest magnitudes first). */
  fraction: number;
}

export interface FinepruneParams extends PruneParams {
  epochs: number;
  learningRate: number;
  dataFraction: number;
}

export interface DistillParams {
  /** What the victim's API returns: top-1 labels only, or the full probability vector. */
  answers: "labels" | "probabilities";
  /** The surrogate's architecture (another one than the victim's). */
  arch: Arch;
  epochs: number;
  learningRate: number;
  /** Fraction of the training images (labels ignored) the thief queries. */
  dataFraction: number;
}

export interface OverwriteParams {
  /** λ of the attacker's own weight watermark (provmark's default 0.01). */
  lambda: number;
  maxEpochs: number;
}

/** One attack setting of the lab's grid. */
export type AttackSetting =
  | { family: "finetune"; params: FinetuneParams }
  | { family: "prune"; params: PruneParams }
  | { family: "fineprune"; params: FinepruneParams }
  | { family: "quantize"; params: QuantizeMode }
  | { family: "noise"; params: { scale: number } }
  | { family: "input"; params: InputTransform }
  | { family: "distill"; params: DistillParams }
  | { family: "overwrite"; params: OverwriteParams };

/** A model's scores: test accuracy and both watermark tests against the key. */
export interface Score {
  accuracy: number;
  triggerMatches: number;
  triggers: number;
  triggerPValue: number;
  triggerLog10PValue: number;
  /** null when the model lacks the key's layer (the weight test cannot run). */
  weightBitErrors: number | null;
  weightBits: number;
  weightPValue: number | null;
  weightLog10PValue: number | null;
  combinedLog10PValue: number;
  verdict: Verdict;
}

export interface LabRow extends Score {
  family: AttackFamily;
  /** Human-readable setting, e.g. "FTAL lr=0.001×0.85/epoch 5 ep 100% data". */
  attack: string;
  params: AttackSetting["params"];
  accuracyDropPp: number;
  /** Which tests the verdict uses: input transforms are a black-box scenario (trigger test only). */
  tests: "trigger+weight" | "trigger";
  /** The rule of the lab: the verdict misses α while accuracy stays within 5 pp of the marked model. */
  removed: boolean;
  seconds: number;
}
