import { alignRows, allFail } from "./answer-rows.js";
import { parseBody } from "./lenient-json.js";
import { describe, fromScores } from "./read-answer.js";
import type { ItemResult } from "./types.js";

/** Reads the local adapter's response body `{"outputs":[[…], …]}`. */
export function parseLocal(body: Uint8Array, n: number, classes: number): ItemResult[] {
  const parsed = parseBody(body);
  if (!parsed.ok) return allFail(n, "malformed", parsed.detail);
  const rows = (parsed.value as { outputs?: unknown } | null)?.outputs;
  if (!Array.isArray(rows)) return allFail(n, "malformed", `expected "outputs", got ${describe(rows)}`);
  return alignRows(rows, n, (r) => fromScores(r, classes));
}
