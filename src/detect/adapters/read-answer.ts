import { NONFINITE } from "./lenient-json.js";
import type { FailureKind, ItemResult } from "./types.js";

/**
 * Turns one instance's answer into an ItemResult. Scores (probabilities or logits) must be C finite
 * numbers; the label is the index of the highest score (the first one on a tie).
 */

export function fail(failure: FailureKind, detail: string): ItemResult {
  return { ok: false, failure, detail: detail.length > 240 ? `${detail.slice(0, 239)}…` : detail };
}

/** What a JSON value looks like, for failure details (never the value itself: it may be large). */
export function describe(v: unknown): string {
  if (v === NONFINITE) return "NaN/Infinity";
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}

/** A row of C scores → argmax. NaN/Infinity (or null, as JavaScript servers write NaN) → "nonfinite". */
export function fromScores(v: unknown, classes: number): ItemResult {
  if (!Array.isArray(v)) return fail("malformed", `expected ${classes} scores, got ${describe(v)}`);
  if (v.length !== classes) return fail("malformed", `expected ${classes} scores, got ${v.length}`);
  let best = 0;
  for (const [i, x] of v.entries()) {
    if (x === NONFINITE || x === null) return fail("nonfinite", `score ${i} is ${describe(x)}`);
    if (typeof x !== "number") return fail("malformed", `score ${i} is ${describe(x)}, not a number`);
    if (x > (v[best] as number)) best = i;
  }
  return { ok: true, label: best, scores: v as number[] };
}

/** A bare class index. */
export function fromLabel(v: unknown, classes: number, allowNumericString = false): ItemResult {
  let x = v;
  if (allowNumericString && typeof x === "string" && /^\s*\d+\s*$/.test(x)) x = Number(x);
  if (x === NONFINITE) return fail("nonfinite", "the label is NaN/Infinity");
  if (typeof x !== "number" || !Number.isInteger(x)) {
    return fail("malformed", `expected an integer class index, got ${describe(v)}`);
  }
  if (x < 0 || x >= classes) return fail("unknown-class", `class index ${x} is outside 0..${classes - 1}`);
  return { ok: true, label: x };
}

/** A class name, mapped to its index by position in `classNames`. */
export function fromClassName(v: unknown, classNames: readonly string[]): ItemResult {
  if (typeof v !== "string") return fail("malformed", `expected a class name, got ${describe(v)}`);
  const i = classNames.indexOf(v);
  if (i < 0) return fail("unknown-class", `unknown class name ${JSON.stringify(v.slice(0, 60))}`);
  return { ok: true, label: i };
}

/** A label given as an index or a name (names need `classNames`). */
export function fromLabelOrName(v: unknown, classes: number, classNames: readonly string[] | undefined): ItemResult {
  if (typeof v === "string" && classNames !== undefined) return fromClassName(v, classNames);
  return fromLabel(v, classes, true);
}

/**
 * Scores keyed by class name, `{"T-shirt": 0.1, "Trouser": 0.7, …}`: argmax over the names given
 * (a top-k subset is fine). A name not in `classNames` is "unknown-class". When every class has a
 * score, `scores` lists them in `classNames` order, so a suspect that permutes its classes is still
 * read correctly.
 */
export function fromScoreObject(v: unknown, classNames: readonly string[]): ItemResult {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    return fail("malformed", `expected scores by class name, got ${describe(v)}`);
  }
  const entries = Object.entries(v);
  if (entries.length === 0) return fail("malformed", "no class scores in the answer");
  const scores = new Array<number | undefined>(classNames.length);
  let best = -1;
  for (const [name, x] of entries) {
    const i = classNames.indexOf(name);
    if (i < 0) return fail("unknown-class", `unknown class name ${JSON.stringify(name.slice(0, 60))}`);
    if (x === NONFINITE || x === null) return fail("nonfinite", `the score of ${JSON.stringify(name)} is NaN/Infinity`);
    if (typeof x !== "number") return fail("malformed", `the score of ${JSON.stringify(name)} is ${describe(x)}`);
    scores[i] = x;
    if (best < 0 || x > (scores[best] as number) || (x === scores[best] && i < best)) best = i;
  }
  const full = scores.every((s) => s !== undefined);
  return full ? { ok: true, label: best, scores: scores as number[] } : { ok: true, label: best };
}
