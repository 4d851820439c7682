import { ProvmarkError } from "../../errors.js";
import { NONFINITE, parseBody } from "./lenient-json.js";
import { describe } from "./read-answer.js";
import type { ItemResult } from "./types.js";

/** One raw answer read: the winning class and, when the answer scored every class, all scores in class order. */
export interface RawAnswer {
  label: number;
  scores?: number[];
}

const LABEL_FIELDS = ["label", "className", "class", "name"] as const;
const SCORE_FIELDS = ["score", "probability", "confidence"] as const;

const bad = (message: string) =>
  new ProvmarkError("ENDPOINT_BAD_RESPONSE", message, {
    subject: "--endpoint",
    hints: [
      'A raw endpoint must answer [{"label", "score"}, …], {"className", "probability"} (or a list of them), or {"<class>": score, …}.',
      "For any other JSON answer, describe it in a config file (--protocol json).",
    ],
  });

/**
 * The class index of a name, by the certificate's class names; any other name is
 * ENDPOINT_CLASS_UNKNOWN naming it and listing the known ones (the suspect's labels and the
 * certificate's differ, so no answer can be read).
 */
export function classIndex(name: string, classNames: readonly string[]): number {
  const i = classNames.indexOf(name);
  if (i >= 0) return i;
  const shown = JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}…` : name);
  const known = classNames.slice(0, 20).map((n) => JSON.stringify(n));
  throw new ProvmarkError(
    "ENDPOINT_CLASS_UNKNOWN",
    `the suspect answered class ${shown}, which is not one of the certificate's ${classNames.length} classes: ${known.join(", ")}${classNames.length > 20 ? ", …" : ""}`,
    {
      subject: "--endpoint",
      hints: [
        "Labels are read as class names, in the certificate's class order: a suspect that renamed its classes needs a",
        "JSON config (--protocol json) whose response.classNames lists its names in the model's order.",
      ],
    },
  );
}

const scoreOf = (v: unknown, what: string): number => {
  if (v === NONFINITE) throw bad(`${what} is NaN/Infinity`);
  if (typeof v !== "number") throw bad(`${what} is ${v === undefined ? "missing" : describe(v)}, not a number`);
  return v;
};

/**
 * Reads a Hugging Face Inference / SageMaker / Teachable Machine style answer for one image:
 * `[{label, score}, …]` (any order; the highest score wins), `{className, probability}` or a list
 * of those, or top-k scores by name `{"Class 1": 0.9, …}`. Labels are class names. Throws
 * ENDPOINT_BAD_RESPONSE for any other shape or a missing score, ENDPOINT_CLASS_UNKNOWN for a name
 * the certificate does not list.
 *
 * @example readRawAnswer([{ label: "cat", score: 0.8 }, { label: "dog", score: 0.2 }], ["dog", "cat"]); // { label: 1 }
 */
export function readRawAnswer(value: unknown, classNames: readonly string[]): RawAnswer {
  // HF pipelines given one input sometimes wrap the list once more: [[{label, score}, …]]
  const v = Array.isArray(value) && value.length === 1 && Array.isArray(value[0]) ? value[0] : value;
  const entries: { name: string; score: number }[] = [];
  if (Array.isArray(v)) {
    if (v.length === 0) throw bad("the answer is an empty list");
    for (const [i, e] of v.entries()) entries.push(entry(e, `entry ${i}`));
  } else if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    const isEntry = LABEL_FIELDS.some((f) => typeof o[f] === "string");
    if (isEntry) entries.push(entry(o, "the answer"));
    else {
      const pairs = Object.entries(o);
      if (pairs.length === 0) throw bad("the answer is an empty object");
      for (const [name, s] of pairs) entries.push({ name, score: scoreOf(s, `the score of ${JSON.stringify(name)}`) });
    }
  } else {
    throw bad(`expected a list of {label, score} or an object of scores, got ${describe(v)}`);
  }
  const scores = new Array<number | undefined>(classNames.length);
  let best = -1;
  for (const e of entries) {
    const i = classIndex(e.name, classNames);
    if (scores[i] !== undefined) throw bad(`class ${JSON.stringify(e.name)} is scored twice`);
    scores[i] = e.score;
    if (best < 0 || e.score > (scores[best] as number) || (e.score === scores[best] && i < best)) best = i;
  }
  return scores.every((s) => s !== undefined) ? { label: best, scores: scores as number[] } : { label: best };
}

function entry(e: unknown, what: string): { name: string; score: number } {
  if (e === null || typeof e !== "object" || Array.isArray(e))
    throw bad(`${what} is ${describe(e)}, not {label, score}`);
  const o = e as Record<string, unknown>;
  const field = LABEL_FIELDS.find((f) => typeof o[f] === "string");
  if (field === undefined) throw bad(`${what} has no label (${LABEL_FIELDS.join(", ")})`);
  const name = o[field] as string;
  const sf = SCORE_FIELDS.find((f) => Object.hasOwn(o, f)) ?? "score";
  return { name, score: scoreOf(o[sf], `the score of ${JSON.stringify(name)}`) };
}

/**
 * A raw endpoint's response body as the one item of its request: a coded reading error becomes the
 * item's failure (`malformed`, `nonfinite` or `unknown-class`), its message the detail, so the
 * journal and the evidence re-read it the same way.
 */
export function parseRawBody(body: Uint8Array, n: number, classNames: readonly string[]): ItemResult[] {
  if (n !== 1)
    return Array.from({ length: n }, () => ({ ok: false, failure: "malformed", detail: `one answer for ${n} images` }));
  const parsed = parseBody(body);
  if (!parsed.ok) return [{ ok: false, failure: "malformed", detail: `ENDPOINT_BAD_RESPONSE: ${parsed.detail}` }];
  try {
    const a = readRawAnswer(parsed.value, classNames);
    return [{ ok: true, label: a.label, ...(a.scores ? { scores: a.scores } : {}) }];
  } catch (e) {
    if (!(e instanceof ProvmarkError)) throw e;
    const failure =
      e.code === "ENDPOINT_CLASS_UNKNOWN"
        ? "unknown-class"
        : /NaN\/Infinity/.test(e.message)
          ? "nonfinite"
          : "malformed";
    return [{ ok: false, failure, detail: `${e.code}: ${e.message}` }];
  }
}
