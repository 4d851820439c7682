import type { Split } from "./dataset.js";

/**
 * Per-feature [min, max] over a split of vector examples: computed on the training split, they are
 * what keygen records in `ModelIO` (`vector.ranges`), and vector triggers are drawn inside them.
 */
export function featureRanges(split: Split, features: number): [number, number][] {
  if (split.count === 0) throw new RangeError("feature ranges of an empty split");
  const ranges: [number, number][] = Array.from({ length: features }, () => [
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
  ]);
  for (let i = 0; i < split.count; i++) {
    for (let f = 0; f < features; f++) {
      const v = split.x[i * features + f] as number;
      const r = ranges[f] as [number, number];
      if (v < r[0]) r[0] = v;
      if (v > r[1]) r[1] = v;
    }
  }
  return ranges;
}
