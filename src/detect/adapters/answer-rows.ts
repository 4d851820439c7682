import { NONFINITE, parseBody } from "./lenient-json.js";
import { describe, fail, fromLabel, fromScores } from "./read-answer.js";
import type { ItemResult } from "./types.js";

/** Every item failing with one kind: a body that cannot be read at all. */
export const allFail = (n: number, kind: "malformed", detail: string): ItemResult[] =>
  Array.from({ length: n }, () => fail(kind, detail));

/**
 * Per-instance answers → results, aligned with the batch: a missing tail is "short" for each missing
 * item; more answers than instances means the alignment cannot be trusted, so every item is "malformed".
 */
export function alignRows(rows: readonly unknown[], n: number, read: (row: unknown) => ItemResult): ItemResult[] {
  if (rows.length > n) return allFail(n, "malformed", `${rows.length} answers for ${n} instances`);
  return Array.from({ length: n }, (_, i) =>
    i < rows.length ? read(rows[i]) : fail("short", `answer ${i} missing: ${rows.length} answers for ${n} instances`),
  );
}

/** A per-instance prediction: a score row, a bare label, or `{ <one output>: row }`. */
export function readPrediction(p: unknown, classes: number): ItemResult {
  if (typeof p === "number" || p === NONFINITE) return fromLabel(p, classes);
  if (Array.isArray(p)) return fromScores(p, classes);
  if (p !== null && typeof p === "object") {
    const values = Object.values(p);
    if (values.length === 1) return readPrediction(values[0], classes);
    return fail("malformed", `a prediction with ${values.length} outputs (${Object.keys(p).slice(0, 4).join(", ")})`);
  }
  return fail("malformed", `expected a score row or a label, got ${describe(p)}`);
}

/** Parses a body that should be a JSON object; an `{"error": …}` answer fails every item with its text. */
export function parseObjectBody(
  body: Uint8Array,
  n: number,
): { ok: true; value: Record<string, unknown> } | { ok: false; items: ItemResult[] } {
  const parsed = parseBody(body);
  if (!parsed.ok) return { ok: false, items: allFail(n, "malformed", parsed.detail) };
  const v = parsed.value;
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    return { ok: false, items: allFail(n, "malformed", `expected a JSON object, got ${describe(v)}`) };
  }
  const err = (v as { error?: unknown }).error;
  if (err !== undefined && err !== null) {
    const text = typeof err === "string" ? err : JSON.stringify(err);
    return { ok: false, items: allFail(n, "malformed", `the suspect answered an error: ${text.slice(0, 160)}`) };
  }
  return { ok: true, value: v as Record<string, unknown> };
}
