/**
 * Reads the answers out of an upstream's prediction response and writes replacement answers back
 * into the same body, keeping everything else of it: TF Serving `predictions` / `outputs` rows,
 * KServe `outputs[0].data` (flat, with its shape), raw `[{label, score}]` lists, and a generic JSON
 * API's answer at its config's response path.
 */
import type { JsonApiConfig } from "../detect/adapters/json-config.js";
import { getPath, type PathSegment, parsePath } from "../detect/adapters/json-path.js";
import type { AnswerRow } from "./hooks.js";
import type { GuardProtocol } from "./protocol.js";

export interface ParsedAnswers {
  answers: AnswerRow[];
  /** The body with `answers` in place of the upstream's (same length as `answers`). */
  rewrite(answers: readonly AnswerRow[]): string;
}

export interface AnswerContext {
  classNames?: readonly string[];
  json?: JsonApiConfig;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isNumbers = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "number");

export function argmax(row: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if ((row[i] as number) > (row[best] as number)) best = i;
  return best;
}

const rowAnswer = (row: number[]): AnswerRow => ({ label: argmax(row), scores: row });

/**
 * The scores to send for `answer` in place of `original`: its own scores, else the original ones
 * with the top class's score swapped onto the new label (so the row stays a distribution).
 */
export function scoresFor(answer: AnswerRow, original: readonly number[]): number[] {
  if (answer.scores !== undefined) return [...answer.scores];
  const out = [...original];
  const top = argmax(original);
  if (answer.label !== top && answer.label >= 0 && answer.label < out.length) {
    [out[top], out[answer.label]] = [out[answer.label] as number, out[top] as number];
  }
  return out;
}

function setPath(root: unknown, path: readonly PathSegment[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [PathSegment, ...PathSegment[]];
  const container = root as Record<string | number, unknown>;
  container[head] = setPath(container[head], rest, value);
  return root;
}

function tfServing(body: Record<string, unknown>): ParsedAnswers | null {
  const key = Array.isArray(body.predictions) ? "predictions" : Array.isArray(body.outputs) ? "outputs" : null;
  if (key === null) return null;
  const rowsIn = body[key] as unknown[];
  if (!rowsIn.every(isNumbers)) return null;
  const rows = rowsIn as number[][];
  return {
    answers: rows.map(rowAnswer),
    rewrite: (answers) => JSON.stringify({ ...body, [key]: answers.map((a, i) => scoresFor(a, rows[i] ?? [])) }),
  };
}

function kserve(body: Record<string, unknown>): ParsedAnswers | null {
  const outputs = body.outputs;
  const out = Array.isArray(outputs) ? outputs[0] : undefined;
  if (!isObject(out) || !Array.isArray(out.shape) || !isNumbers(out.data)) return null;
  const [n, c] = out.shape as number[];
  const data = out.data;
  if (typeof n !== "number" || typeof c !== "number" || n * c !== data.length || n <= 0) return null;
  const rows = Array.from({ length: n }, (_, i) => data.slice(i * c, (i + 1) * c));
  return {
    answers: rows.map(rowAnswer),
    rewrite: (answers) => {
      const flat = answers.flatMap((a, i) => scoresFor(a, rows[i] ?? []));
      return JSON.stringify({ ...body, outputs: [{ ...out, data: flat }, ...(outputs as unknown[]).slice(1)] });
    },
  };
}

/** `[{label, score}]` (labels class names or indices): one answer. */
function raw(body: unknown, classNames: readonly string[] | undefined): ParsedAnswers | null {
  if (!Array.isArray(body) || body.length === 0) return null;
  const entries = body as { label?: unknown; score?: unknown }[];
  const indexOf = (label: unknown): number => {
    const byName = classNames?.indexOf(String(label)) ?? -1;
    if (byName >= 0) return byName;
    const n = Number(label);
    return typeof label === "string" && /^\d+$/.test(label) ? n : typeof label === "number" ? n : -1;
  };
  const idx = entries.map((e) => (isObject(e) && typeof e.score === "number" ? indexOf(e.label) : -1));
  if (idx.some((i) => i < 0)) return null;
  const scores = new Array<number>(Math.max(...idx) + 1).fill(0);
  for (const [k, i] of idx.entries()) scores[i] = entries[k]?.score as number;
  const numericLabels = entries.every((e) => typeof e.label === "number");
  const labelOf = (i: number) => (numericLabels ? i : (classNames?.[i] ?? String(i)));
  return {
    answers: [rowAnswer(scores)],
    rewrite: (answers) => {
      const s = scoresFor(answers[0] ?? rowAnswer(scores), scores);
      const order = idx.slice().sort((a, b) => (s[b] as number) - (s[a] as number) || a - b);
      return JSON.stringify(order.map((i) => ({ label: labelOf(i), score: s[i] })));
    },
  };
}

function jsonApi(body: unknown, config: JsonApiConfig): ParsedAnswers | null {
  const path = parsePath(config.response.path);
  const got = getPath(body, path);
  if (!got.found) return null;
  const batched = config.batch !== false;
  const list = batched ? got.value : [got.value];
  if (!Array.isArray(list)) return null;
  const names = config.response.classNames;
  const kind = config.response.kind;
  if (kind === "probabilities") {
    if (!list.every(isNumbers)) return null;
    const rows = list as number[][];
    return {
      answers: rows.map(rowAnswer),
      rewrite: (answers) => {
        const next = answers.map((a, i) => scoresFor(a, rows[i] ?? []));
        return JSON.stringify(setPath(structuredClone(body), path, batched ? next : next[0]));
      },
    };
  }
  if (kind === "label" || kind === "className") {
    const labels = list.map((v) =>
      typeof v === "number" && Number.isInteger(v) ? v : typeof v === "string" ? (names?.indexOf(v) ?? -1) : -1,
    );
    if (labels.some((l) => l < 0)) return null;
    const asName = kind === "className" || typeof list[0] === "string";
    return {
      answers: labels.map((label) => ({ label })),
      rewrite: (answers) => {
        const next = answers.map((a) => (asName ? (names?.[a.label] ?? String(a.label)) : a.label));
        return JSON.stringify(setPath(structuredClone(body), path, batched ? next : next[0]));
      },
    };
  }
  return null;
}

/** The answers of a 200 prediction response, or null when the guard does not read this body. */
export function parseAnswers(protocol: GuardProtocol, text: string, ctx: AnswerContext): ParsedAnswers | null {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return null;
  }
  if (protocol === "tfserving") return isObject(body) ? tfServing(body) : null;
  if (protocol === "kserve") return isObject(body) ? kserve(body) : null;
  if (protocol === "raw") return raw(body, ctx.classNames);
  return ctx.json === undefined ? null : jsonApi(body, ctx.json);
}
