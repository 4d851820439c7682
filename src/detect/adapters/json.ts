import { randomBytes } from "node:crypto";
import { utf8 } from "../../core/digest/bytes.js";
import { secretValues } from "./headers.js";
import { exchangeJson } from "./http-exchange.js";
import type { JsonApiConfig } from "./json-config.js";
import { jsonResponseReader } from "./json-response.js";
import type { BatchOutcome, ItemResult, QueryInput, SuspectAdapter } from "./types.js";
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
  readonly #o: JsonApiOptions;
  readonly #secrets: string[];
  readonly #marker = `provmark-input-${randomBytes(8).toString("hex")}`;
  readonly #template: string;
  readonly #layout: "nested" | "flat";
  readonly #read: (body: Uint8Array, n: number) => ItemResult[];

  constructor(o: JsonApiOptions) {
    this.#o = o;
    const c = o.config;
    this.target = o.target;
    this.maxBatch = c.batch === false ? 1 : c.batch;
    this.#secrets = secretValues(o.headers);
    let layout: "nested" | "flat" = "nested";
    this.#template = JSON.stringify(c.request, (_k, v: unknown) => {
      if (typeof v === "string" && /^\$INPUTS?(_FLAT)?$/.test(v)) {
        layout = v.endsWith("_FLAT") ? "flat" : "nested";
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
    const scale = this.#o.config.scale === "model" ? (this.#o.codec ?? "pixel/255") : this.#o.config.scale;
    const encoded = batch.map((q) => instanceJson(q, scale, this.#layout));
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

  parse(responseBody: Uint8Array, batchSize: number): ItemResult[] {
    return this.#read(responseBody, batchSize);
  }

  async close(): Promise<void> {}
}
