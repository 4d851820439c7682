import { createRng, permutation } from "../../core/rng.js";

/** Fixed, so every run and every machine holds out the same examples whatever the training seed. */
export const SPLIT_SEED = 20260101;
export const TEST_FRACTION = 0.2;

export interface SplitIndices {
  /** Indices into the examples, ascending. */
  readonly train: number[];
  readonly test: number[];
  /** One sentence for `Dataset.splitNote`. */
  readonly note: string;
}

/** How many of a group's n examples go to test: 20% (floor), at least 1, never the whole group. */
export function testCount(n: number): number {
  return n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.floor(n * TEST_FRACTION)));
}

/**
 * A seeded split, stratified by group (the class; one group for unlabelled data): each group's
 * examples are permuted by their own stream `${stream}/${key}`, the first `testCount(n)` go to
 * test. The key is the group's name when `names` are given (a class folder, a CSV label), so the
 * held-out examples do not depend on the order the model gives its classes. A class with one example keeps it for training (nothing of it is held out), so tiny
 * datasets still test every class that has two examples or more.
 */
export function stratifiedSplit(groups: ArrayLike<number>, stream: string, names?: readonly string[]): SplitIndices {
  const members = new Map<number, number[]>();
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i] as number;
    const list = members.get(g);
    if (list) list.push(i);
    else members.set(g, [i]);
  }
  const train: number[] = [];
  const test: number[] = [];
  let single = 0;
  for (const [g, list] of members) {
    const order = permutation(list.length, createRng(SPLIT_SEED, `${stream}/${names?.[g] ?? g}`));
    const nTest = testCount(list.length);
    if (list.length === 1) single++;
    order.forEach((k, i) => {
      (i < nTest ? test : train).push(list[k] as number);
    });
  }
  train.sort((a, b) => a - b);
  test.sort((a, b) => a - b);
  const pct = `${TEST_FRACTION * 100}%`;
  const rule =
    members.size === 1
      ? `${pct} to test (floor, at least 1 of 2 or more)`
      : `stratified: ${pct} of each of the ${members.size} classes to test (floor, at least 1 of a class of 2 or more)`;
  const untested = single > 0 ? `; ${single} class(es) with a single example, kept for training` : "";
  const note = `${groups.length} examples, seeded split (seed ${SPLIT_SEED}), ${rule}${untested}: ${train.length} train / ${test.length} test`;
  return { train, test, note };
}
