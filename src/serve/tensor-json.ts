import { RequestError } from "./http.js";

/** The model's one input and one output, as both protocols describe them. */
export interface ModelSignature {
  /** The input tensor's name in the model (e.g. `flatten_input`). */
  inputName: string;
  /** Shape of one instance, without the batch dimension (e.g. [28, 28, 1]). */
  inputShape: readonly number[];
  /** Values per instance: the product of `inputShape`. */
  inputSize: number;
  /** Output values per instance (the class count). */
  classes: number;
}

/** A request's instances as one row-major float32 batch [n, ...inputShape]. */
export interface Batch {
  x: Float32Array;
  n: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const describe = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? `an array of ${v.length}` : typeof v === "object" ? "an object" : typeof v;

/** `[28, 28, 1]` */
export const shapeText = (shape: readonly number[]): string => `[${shape.join(", ")}]`;

/** Refuses an empty batch or one larger than `maxBatch`. */
export function checkBatchSize(n: number, maxBatch: number, what: string): void {
  if (n === 0) throw new RequestError(400, `${what} is empty: send at least one instance`);
  if (n > maxBatch) {
    throw new RequestError(400, `too many instances in ${what}: ${n} > ${maxBatch}; split the request`);
  }
}

/**
 * Copies `count` numbers from a flat JSON array into `out` at `offset`, refusing anything that is
 * not a number or not finite as float32 (JSON has no NaN, but 1e39 overflows float32).
 */
export function writeFlat(a: readonly unknown[], out: Float32Array, offset: number, where: string): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (typeof v !== "number") throw new RequestError(400, `${where}[${i}] is ${describe(v)}, not a number`);
    out[offset + i] = v;
    if (!Number.isFinite(out[offset + i])) {
      throw new RequestError(400, `${where}[${i}] = ${v} is not a finite float32 value`);
    }
  }
}

/**
 * Copies a nested JSON array of exactly `shape` (row-major) into `out` at `offset`; returns the
 * offset after it. Errors name the first bad position, e.g. `instances[2][5]`.
 */
export function writeNested(
  v: unknown,
  shape: readonly number[],
  out: Float32Array,
  offset: number,
  where: string,
  depth = 0,
): number {
  const dim = shape[depth] as number;
  if (!Array.isArray(v) || v.length !== dim) {
    throw new RequestError(
      400,
      `${where} must be an array of ${dim} (shape ${shapeText(shape.slice(depth))}), got ${describe(v)}`,
    );
  }
  if (depth === shape.length - 1) {
    writeFlat(v, out, offset, where);
    return offset + dim;
  }
  let off = offset;
  for (let i = 0; i < dim; i++) off = writeNested(v[i], shape, out, off, `${where}[${i}]`, depth + 1);
  return off;
}

/**
 * One TF Serving instance into `out` at `offset`: nested as the input shape, flat (all values of
 * the instance in row-major order), or named (`{"<input name>": ...}`, the model having one input).
 */
export function writeInstance(v: unknown, sig: ModelSignature, out: Float32Array, offset: number, where: string) {
  let value = v;
  let at = where;
  if (isObject(v)) {
    const keys = Object.keys(v);
    const key = keys[0];
    if (keys.length !== 1 || key === undefined) {
      throw new RequestError(
        400,
        `${where} names ${keys.length} inputs; the model has one, ${JSON.stringify(sig.inputName)}`,
      );
    }
    if (key === "b64") throw new RequestError(400, `${where}: binary ("b64") inputs are not supported`);
    value = v[key];
    at = `${where}.${key}`;
  }
  if (
    Array.isArray(value) &&
    value.length === sig.inputSize &&
    (sig.inputShape.length === 1 || !Array.isArray(value[0]))
  ) {
    writeFlat(value, out, offset, at);
    return;
  }
  if (!Array.isArray(value)) {
    throw new RequestError(
      400,
      `${at} is ${describe(value)}; an instance is an array of shape ${shapeText(sig.inputShape)} or ${sig.inputSize} flat numbers`,
    );
  }
  writeNested(value, sig.inputShape, out, offset, at);
}

/** A list of instances (TF Serving's row format, or a columnar `inputs` tensor) as one batch. */
export function instancesBatch(list: readonly unknown[], sig: ModelSignature, maxBatch: number, what: string): Batch {
  checkBatchSize(list.length, maxBatch, what);
  const x = new Float32Array(list.length * sig.inputSize);
  for (let i = 0; i < list.length; i++) writeInstance(list[i], sig, x, i * sig.inputSize, `${what}[${i}]`);
  return { x, n: list.length };
}
