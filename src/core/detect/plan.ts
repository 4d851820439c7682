import { createRng, permutation } from "../rng.js";
import type { Trigger } from "../watermark/triggers.js";

/** One query of a detection run: a secret trigger or a benign decoy, under an opaque id. */
export type PlannedQuery =
  | { id: string; kind: "trigger"; trigger: number }
  | { id: string; kind: "decoy"; decoy: number };

export interface PlanOptions {
  /** All triggers of the key (indices into this array are recorded). */
  triggerCount: number;
  /** How many triggers this run uses (a random subset, so one run does not expose the whole set). */
  subset: number;
  /** Benign inputs available as decoys. */
  decoyCount: number;
  /** Decoys per trigger (0 disables stealth mixing). */
  decoyRatio: number;
  /** Fresh per run (recorded in the plan): picks the subset (v1), the decoys and the order. */
  runSeed: string;
  /**
   * The run's triggers when they are fixed in advance (v2 certificates: a block of a committed run
   * order), so that the seed only decides decoys and order and no choice of seed changes the test.
   */
  triggers?: readonly number[];
}

export interface Plan {
  runSeed: string;
  triggers: number[];
  queries: PlannedQuery[];
}

/**
 * A run's query plan: a random subset of the triggers shuffled among decoys. Pure and reproducible
 * from `runSeed`, so a resumed run rebuilds exactly the same plan.
 */
export function planQueries(o: PlanOptions): Plan {
  const rng = createRng(o.runSeed, o.triggers ? "detect/plan/v2" : "detect/plan");
  const subset = o.triggers ? o.triggers.length : Math.max(1, Math.min(o.subset, o.triggerCount));
  const triggers = o.triggers
    ? [...o.triggers].sort((a, b) => a - b)
    : [...permutation(o.triggerCount, rng).subarray(0, subset)].sort((a, b) => a - b);
  const wanted = o.decoyCount === 0 ? 0 : Math.round(subset * o.decoyRatio);
  const decoys = Array.from({ length: wanted }, () => rng.int(o.decoyCount));
  const items: Omit<PlannedQuery, "id">[] = [
    ...triggers.map((t) => ({ kind: "trigger" as const, trigger: t })),
    ...decoys.map((d) => ({ kind: "decoy" as const, decoy: d })),
  ];
  const order = permutation(items.length, rng);
  const width = String(items.length).length;
  const queries = [...order].map((j, i) => ({ id: `q${String(i).padStart(width, "0")}`, ...items[j] }) as PlannedQuery);
  return { runSeed: o.runSeed, triggers, queries };
}

/** The triggers of a plan (for reveals and the verdict). */
export function plannedTriggers(plan: Plan, all: readonly Trigger[]): Trigger[] {
  return plan.triggers.map((i) => all[i] as Trigger);
}
