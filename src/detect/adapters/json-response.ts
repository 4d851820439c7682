import { alignRows, allFail } from "./answer-rows.js";
import type { ResponseSection } from "./json-config.js";
import { formatPath, getPath, type PathSegment, parsePath } from "./json-path.js";
import { parseBody } from "./lenient-json.js";
import { describe, fail, fromClassName, fromLabelOrName, fromScoreObject, fromScores } from "./read-answer.js";
import type { ItemResult } from "./types.js";

const TOPK_FIELDS = ["label", "class", "className", "name", "index"];

/**
 * Reads a generic JSON API's answers as its config's `response` section says. `batched`: whether
 * the value at the path is an array of per-instance answers; "infer" (re-checking a report that
 * kept only the response section) decides from the value's shape.
 */
export function jsonResponseReader(
  section: ResponseSection,
  classes: number,
  batched: boolean | "infer",
): (body: Uint8Array, n: number) => ItemResult[] {
  const path = parsePath(section.path);
  const topkPath = section.topkPath === undefined ? undefined : parsePath(section.topkPath);
  const read = (v: unknown) => readOne(v, section, classes, topkPath);
  return (body, n) => {
    const parsed = parseBody(body);
    if (!parsed.ok) return allFail(n, "malformed", parsed.detail);
    const at = getPath(parsed.value, path);
    if (!at.found) {
      const err = (parsed.value as { error?: unknown } | null)?.error;
      const why =
        err !== undefined && err !== null
          ? `the suspect answered an error: ${(typeof err === "string" ? err : JSON.stringify(err)).slice(0, 160)}`
          : `no ${at.missing} in the answer`;
      return allFail(n, "malformed", why);
    }
    const many = batched === "infer" ? looksBatched(at.value, section.kind) : batched;
    if (!many) return n === 1 ? [read(at.value)] : allFail(n, "malformed", `one answer for ${n} instances`);
    if (!Array.isArray(at.value)) {
      return allFail(n, "malformed", `expected an array of answers at ${formatPath(path)}, got ${describe(at.value)}`);
    }
    return alignRows(at.value, n, read);
  };
}

function readOne(v: unknown, section: ResponseSection, C: number, topkPath: PathSegment[] | undefined): ItemResult {
  const { kind, classNames } = section;
  if (kind === "label") return fromLabelOrName(v, C, classNames);
  if (kind === "className") return fromClassName(v, classNames ?? []);
  if (kind === "probabilities") {
    if (Array.isArray(v)) return fromScores(v, C);
    if (classNames === undefined) return fail("malformed", `expected ${C} scores, got ${describe(v)}`);
    return fromScoreObject(v, classNames);
  }
  if (!Array.isArray(v) || v.length === 0) return fail("malformed", `expected a top-k list, got ${describe(v)}`);
  return fromLabelOrName(topLabel(v[0], topkPath), C, classNames);
}

function topLabel(e: unknown, topkPath: PathSegment[] | undefined): unknown {
  if (topkPath !== undefined) {
    const at = getPath(e, topkPath);
    return at.found ? at.value : undefined;
  }
  if (Array.isArray(e)) return e[0];
  if (e !== null && typeof e === "object") {
    const field = TOPK_FIELDS.find((f) => Object.hasOwn(e, f));
    return field === undefined ? undefined : (e as Record<string, unknown>)[field];
  }
  return e;
}

/** Whether a value is an array of per-instance answers rather than one answer. */
function looksBatched(v: unknown, kind: ResponseSection["kind"]): boolean {
  if (!Array.isArray(v)) return false;
  if (kind === "label" || kind === "className") return true;
  const first: unknown = v[0];
  if (kind === "probabilities") return first !== undefined && typeof first === "object";
  // topk: one answer is a list of entries (objects, [name, score] pairs or bare labels)
  return Array.isArray(first) && (first.length === 0 || (typeof first[0] === "object" && first[0] !== null));
}
