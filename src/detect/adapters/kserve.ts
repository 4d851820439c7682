import { utf8 } from "../../core/digest/bytes.js";
import { alignRows, allFail, parseObjectBody } from "./answer-rows.js";
import { encodeBase64 } from "./encode-image.js";
import { appendPath } from "./endpoint.js";
import { secretValues } from "./headers.js";
import { exchangeJson, httpRequest } from "./http-exchange.js";
import { parseBody } from "./lenient-json.js";
import { describe, fromLabel, fromScores } from "./read-answer.js";
import type { BatchOutcome, ItemResult, QueryInput, SuspectAdapter, WireEncoding } from "./types.js";
import { assertBatchShape, batchFlatJson, type WireCodec } from "./wire.js";

export const KSERVE_DEFAULT_INPUT = "input_1";

export interface KServeOptions {
  /** How pixels become the model's numbers (default pixel/255, what v1 certificates say). */
  codec?: WireCodec;
  /**
   * `png`/`jpeg`: one BYTES input of shape [n] whose data are the base64 encoded images (the JSON
   * form of the protocol's BYTES tensors that KServe's and Triton's image models take).
   */
  encoding?: WireEncoding;
  /** `{base}/v2/models/{name}/infer`. */
  url: string;
  /** `{base}/v2/models/{name}`: model metadata, probed by `KServeAdapter.open` to learn the input name. */
  metadataUrl: string;
  target: string;
  headers: Readonly<Record<string, string>>;
  classes: number;
  inputShape: readonly [number, number, number];
  /** The input tensor's name; when absent, `open` asks the metadata and falls back to "input_1". */
  inputName?: string;
  /** Which output to read when the model has several; default the one shaped [n, classes]. */
  outputName?: string;
  maxBatch?: number;
  timeoutMs?: number;
  now?: () => number;
}

/** What the metadata probe found (for the CLI to print). */
export interface KServeProbe {
  inputName: string;
  /** Whether the input is sent as [n, h*w*c] because the model's metadata declares a flat input. */
  flat: boolean;
  /** How the input name was chosen: "flag", "metadata", or "default (<why the probe failed>)". */
  source: string;
}

/**
 * `{base}/v2/models/{name}[/versions/{v}]/infer` and the metadata URL (the same without `/infer`); with no name, a
 * base that is already a full `…/v2/models/{name}/infer` URL is used as is.
 */
export function kserveUrls(
  base: URL,
  name: string | undefined,
  version?: string,
): { url: string; metadataUrl: string } {
  if (name === undefined && /\/v2\/models\/.+\/infer\/?$/.test(base.pathname)) {
    const meta = new URL(base);
    meta.pathname = base.pathname.replace(/\/infer\/?$/, "");
    return { url: base.toString(), metadataUrl: meta.toString() };
  }
  const v = version === undefined ? "" : `/versions/${encodeURIComponent(version)}`;
  const m = appendPath(base, `/v2/models/${encodeURIComponent(name ?? "")}${v}`);
  return { url: appendPath(m, "/infer").toString(), metadataUrl: m.toString() };
}

/**
 * The Open Inference Protocol (KServe v2, Triton, MLServer): one FP32 input tensor [n,h,w,c] with
 * flat data → an output [n, C] (argmax per row) or [n] / [n,1] labels.
 */
export class KServeAdapter implements SuspectAdapter {
  readonly protocol = "kserve";
  readonly target: string;
  readonly maxBatch: number;
  readonly encoding: WireEncoding;
  readonly probe: KServeProbe;
  readonly #o: KServeOptions;
  readonly #secrets: string[];

  constructor(o: KServeOptions, probe?: KServeProbe) {
    this.#o = o;
    this.target = o.target;
    this.encoding = o.encoding ?? "tensor";
    this.maxBatch = o.maxBatch ?? 32;
    this.#secrets = secretValues(o.headers);
    this.probe = probe ?? { inputName: o.inputName ?? KSERVE_DEFAULT_INPUT, flat: false, source: "flag" };
  }

  /** Builds the adapter, asking `GET /v2/models/{name}` for the input name unless it was given. */
  static async open(o: KServeOptions): Promise<KServeAdapter> {
    if (o.inputName !== undefined) return new KServeAdapter(o);
    return new KServeAdapter(o, await probeMetadata(o));
  }

  async send(batch: readonly QueryInput[], signal: AbortSignal): Promise<BatchOutcome> {
    assertBatchShape(batch, this.#o.inputShape);
    const encoding = this.#o.encoding ?? "tensor";
    if (encoding !== "tensor") {
      const data = await encodeBase64(batch, encoding);
      const input = { name: this.probe.inputName, shape: [batch.length], datatype: "BYTES", data };
      const body = utf8(JSON.stringify({ inputs: [input] }));
      return exchangeJson(this.#o, body, batch.length, signal, (b, n) => this.parse(b, n), this.#secrets);
    }
    const [h, w, c] = this.#o.inputShape;
    const shape = this.probe.flat ? [batch.length, h * w * c] : [batch.length, h, w, c];
    const head = JSON.stringify({ name: this.probe.inputName, shape, datatype: "FP32" });
    const text = `{"inputs":[${head.slice(0, -1)},"data":${batchFlatJson(batch, this.#o.codec ?? "pixel/255")}}]}`;
    const body = utf8(text);
    return exchangeJson(this.#o, body, batch.length, signal, (b, n) => this.parse(b, n), this.#secrets);
  }

  parse(responseBody: Uint8Array, batchSize: number): ItemResult[] {
    return parseKServe(responseBody, batchSize, this.#o.classes, this.#o.outputName);
  }

  async close(): Promise<void> {}
}

/** Reads an Open Inference Protocol answer for a batch of `n` (see `KServeAdapter`). */
export function parseKServe(body: Uint8Array, n: number, C: number, outputName?: string): ItemResult[] {
  const obj = parseObjectBody(body, n);
  if (!obj.ok) return obj.items;
  const outputs = obj.value.outputs;
  if (!Array.isArray(outputs) || outputs.length === 0) {
    return allFail(n, "malformed", `expected an "outputs" array, got ${describe(outputs)}`);
  }
  const out = pickOutput(outputs as unknown[], C, outputName);
  if (typeof out === "string") return allFail(n, "malformed", out);
  const shape = out.shape;
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    return allFail(n, "malformed", `output shape ${JSON.stringify(shape)} is not a list of sizes`);
  }
  const data = Array.isArray(out.data) ? (out.data as unknown[]).flat(Number.POSITIVE_INFINITY) : undefined;
  const size = (shape as number[]).reduce((a, b) => a * b, 1);
  if (data === undefined || data.length !== size) {
    const has = data === undefined ? "no data" : `${data.length} values`;
    return allFail(n, "malformed", `the output holds ${has}, its shape [${shape.join(",")}] needs ${size}`);
  }
  const rows = shape[0] as number;
  const labels = shape.length === 1 || (shape.length === 2 && shape[1] === 1);
  if (!labels && shape.length !== 2) {
    return allFail(n, "malformed", `output shape [${shape.join(",")}]: expected [n,${C}] scores or [n] labels`);
  }
  const width = labels ? 1 : (shape[1] as number);
  const rowValues = Array.from({ length: rows }, (_, i) => data.slice(i * width, (i + 1) * width));
  return alignRows(rowValues, n, (row) => (labels ? fromLabel((row as unknown[])[0], C) : fromScores(row, C)));
}

function pickOutput(
  outputs: unknown[],
  C: number,
  outputName: string | undefined,
): { shape?: unknown; data?: unknown } | string {
  const named = outputs as ({ name?: unknown; shape?: unknown; data?: unknown } | null)[];
  if (outputName !== undefined) {
    const o = named.find((x) => x?.name === outputName);
    return o ?? `no output named ${JSON.stringify(outputName)} in the answer`;
  }
  const fit = named.length === 1 ? named[0] : named.find((x) => Array.isArray(x?.shape) && x.shape.at(-1) === C);
  const o = fit ?? named[0];
  return o !== null && typeof o === "object" ? o : "an output is not an object";
}

async function probeMetadata(o: KServeOptions): Promise<KServeProbe> {
  const fallback = (why: string): KServeProbe => ({
    inputName: KSERVE_DEFAULT_INPUT,
    flat: false,
    source: `default (metadata ${why})`,
  });
  const reply = await httpRequest({
    url: o.metadataUrl,
    method: "GET",
    headers: o.headers,
    signal: AbortSignal.timeout(o.timeoutMs ?? 30_000),
    timeoutMs: o.timeoutMs ?? 30_000,
  }).catch(() => undefined);
  if (reply === undefined || reply.failure !== undefined) return fallback("unreachable");
  if (reply.status !== 200 || reply.body === null) return fallback(`answered HTTP ${reply.status}`);
  const parsed = parseBody(reply.body);
  const inputs = parsed.ok ? (parsed.value as { inputs?: unknown })?.inputs : undefined;
  if (!Array.isArray(inputs) || inputs.length === 0) return fallback("lists no inputs");
  const meta = inputs as { name?: unknown; datatype?: unknown; shape?: unknown }[];
  const wanted = (o.encoding ?? "tensor") === "tensor" ? "FP32" : "BYTES";
  const input = meta.find((i) => i?.datatype === wanted) ?? meta[0];
  if (typeof input?.name !== "string") return fallback("names no input");
  const [h, w, c] = o.inputShape;
  const shape = Array.isArray(input.shape) ? input.shape : [];
  const flat = shape.length === 2 && shape[1] === h * w * c;
  return { inputName: input.name, flat, source: "metadata" };
}
