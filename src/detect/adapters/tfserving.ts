import { utf8 } from "../../core/digest/bytes.js";
import { alignRows, allFail, parseObjectBody, readPrediction } from "./answer-rows.js";
import { encodeBase64 } from "./encode-image.js";
import { appendPath } from "./endpoint.js";
import { secretValues } from "./headers.js";
import { exchangeJson } from "./http-exchange.js";
import { describe } from "./read-answer.js";
import type { BatchOutcome, ItemResult, QueryInput, SuspectAdapter, WireEncoding } from "./types.js";
import { assertBatchShape, instanceJson, type WireCodec } from "./wire.js";

export interface TfServingOptions {
  /** The full `…/v1/models/<name>[/versions/<v>]:predict` URL (see `tfServingUrl`). */
  url: string;
  /** The URL without credentials or query, for reports. */
  target: string;
  headers: Readonly<Record<string, string>>;
  classes: number;
  inputShape: readonly [number, number, number];
  /** How pixels become the model's numbers (default pixel/255, what v1 certificates say). */
  codec?: WireCodec;
  /** `png`/`jpeg`: each instance is `{"b64": <encoded image>}` (TF Serving's binary input form). */
  encoding?: WireEncoding;
  /** Instances per request; default 32. */
  maxBatch?: number;
  timeoutMs?: number;
  now?: () => number;
}

/**
 * `{base}/v1/models/{name}[/versions/{v}]:predict`; with no name, a base that is already a full
 * `…/v1/models/…:predict` URL is used as is.
 */
export function tfServingUrl(base: URL, name: string | undefined, version?: string): string {
  if (name === undefined && /\/v1\/models\/.+:predict$/.test(base.pathname)) return base.toString();
  const v = version === undefined ? "" : `/versions/${encodeURIComponent(version)}`;
  return appendPath(base, `/v1/models/${encodeURIComponent(name ?? "")}${v}:predict`).toString();
}

/**
 * TensorFlow Serving's REST predict API, row format: `{"instances": [<h×w×c floats>, …]}` →
 * `{"predictions": [[p0 … pC-1], …]}` (a bare label per instance, or `"outputs"`, are read too).
 * With an image encoding each instance is `{"b64": "<PNG or JPEG>"}`, as TF Serving's REST API
 * writes binary values, for models that decode images themselves.
 *
 * @example
 * const a = new TfServingAdapter({ url: tfServingUrl(new URL("http://host:8501"), "mnist"), target: "http://host:8501",
 *   headers: {}, classes: 10, inputShape: [28, 28, 1] });
 */
export class TfServingAdapter implements SuspectAdapter {
  readonly protocol = "tfserving";
  readonly target: string;
  readonly maxBatch: number;
  readonly encoding: WireEncoding;
  readonly #o: TfServingOptions;
  readonly #secrets: string[];

  constructor(o: TfServingOptions) {
    this.#o = o;
    this.target = o.target;
    this.encoding = o.encoding ?? "tensor";
    this.maxBatch = o.maxBatch ?? 32;
    this.#secrets = secretValues(o.headers);
  }

  async send(batch: readonly QueryInput[], signal: AbortSignal): Promise<BatchOutcome> {
    assertBatchShape(batch, this.#o.inputShape);
    const encoding = this.#o.encoding ?? "tensor";
    const instances =
      encoding === "tensor"
        ? batch.map((q) => instanceJson(q, this.#o.codec ?? "pixel/255", "nested"))
        : (await encodeBase64(batch, encoding)).map((b64) => `{"b64":"${b64}"}`);
    const text = `{"instances":[${instances.join(",")}]}`;
    const body = utf8(text);
    return exchangeJson(this.#o, body, batch.length, signal, (b, n) => this.parse(b, n), this.#secrets);
  }

  parse(responseBody: Uint8Array, batchSize: number): ItemResult[] {
    return parseTfServing(responseBody, batchSize, this.#o.classes);
  }

  async close(): Promise<void> {}
}

/** Reads a TF Serving predict answer for a batch of `n` (see `TfServingAdapter`). */
export function parseTfServing(body: Uint8Array, n: number, classes: number): ItemResult[] {
  const obj = parseObjectBody(body, n);
  if (!obj.ok) return obj.items;
  const rows = obj.value.predictions ?? obj.value.outputs;
  if (!Array.isArray(rows)) return allFail(n, "malformed", `expected a "predictions" array, got ${describe(rows)}`);
  return alignRows(rows, n, (p) => readPrediction(p, classes));
}
