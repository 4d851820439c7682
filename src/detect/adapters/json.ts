import { randomBytes } from "node:crypto";
import { utf8 } from "../../core/digest/bytes.js";
import { encodeBase64 } from "./encode-image.js";
import { secretValues } from "./headers.js";
import { exchangeJson } from "./http-exchange.js";
import type { JsonApiConfig } from "./json-config.js";
import { jsonResponseReader } from "./json-response.js";
import type { BatchOutcome, ItemResult, QueryInput, SuspectAdapter, WireEncoding } from "./types.js";
import { assertBatchShape, instanceJson, type WireCodec } from "./wire.js";

export interface JsonApiOptions {
  config: JsonApiConfig;
  url: string;
  target: string;
  /** Resolved headers (config's and the command line's). */
  headers: Readonly<Record<string, string>>;
  classes: number;
  inputShape: readonly [number, number, number];
  /** The certificate's encoding, used when the config's scale is "model". */
  codec?: WireCodec;
  /** The image format a `$INPUT_B64` / `$INPUTS_B64` placeholder is filled with (png or jpeg). */
  encoding?: WireEncoding;
  timeoutMs?: number;
  now?: () => number;
}

/**
 * Any JSON API, described by a config: the request is a template with one placeholder for the
 * input(s), the answer is found by a path and read as a label, a class name, a top-k list or scores
 * (a list in class order, or an object keyed by class name).
 */
export class JsonApiAdapter implements SuspectAdapter {
  readonly protocol = "json";
  readonly target: string;
  readonly maxBatch: number;
  readonly encoding: WireEncoding;
  readonly #o: JsonApiOptions;
  readonly #secrets: string[];
  readonly #marker = `provmark-input-${randomBytes(8).toString("hex")}`;
  readonly #template: string;
  readonly #layout: "nested" | "flat" | "b64";
  readonly #read: (body: Uint8Array, n: number) => ItemResult[];

  constructor(o: JsonApiOptions) {
    this.#o = o;
    const c = o.config;
    this.target = o.target;
    this.encoding = o.encoding ?? "tensor";
    this.maxBatch = c.batch === false ? 1 : c.batch;
    this.#secrets = secretValues(o.headers);
    let layout: "nested" | "flat" | "b64" = "nested";
    this.#template = JSON.stringify(c.request, (_k, v: unknown) => {
      if (typeof v === "string" && /^\$INPUTS?(_FLAT|_B64)?$/.test(v)) {
        layout = v.endsWith("_FLAT") ? "flat" : v.endsWith("_B64") ? "b64" : "nested";
        return this.#marker;
      }
      return v;
    });
    this.#layout = layout;
    this.#read = jsonResponseReader(c.response, o.classes, c.batch !== false);
  }

  async send(batch: readonly QueryInput[], signal: AbortSignal): Promise<BatchOutcome> {
    assertBatchShape(batch, this.#o.inputShape);
    if (batch.length > this.maxBatch) throw new RangeError(`batch of ${batch.length}, at most ${this.maxBatch}`);
    const encoded = await this.#encode(batch);
    const input = this.#o.config.batch === false ? (encoded[0] as string) : `[${encoded.join(",")}]`;
    const body = utf8(this.#template.replace(`"${this.#marker}"`, () => input));
    return exchangeJson(
      this.#o,
      body,
      batch.length,
      signal,
      (b, n) => this.parse(b, n),
      this.#secrets,
      this.#o.config.method,
    );
  }

  async #encode(batch: readonly QueryInput[]): Promise<string[]> {
    const layout = this.#layout;
    if (layout === "b64") {
      const format = this.#o.encoding === "jpeg" ? "jpeg" : "png";
      return (await encodeBase64(batch, format)).map((b64) => `"${b64}"`);
    }
    const scale = this.#o.config.scale === "model" ? (this.#o.codec ?? "pixel/255") : this.#o.config.scale;
    return batch.map((q) => instanceJson(q, scale, layout));
  }

  parse(responseBody: Uint8Array, batchSize: number): ItemResult[] {
    return this.#read(responseBody, batchSize);
  }

  async close(): Promise<void> {}
}
