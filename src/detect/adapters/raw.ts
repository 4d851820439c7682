import { ProvmarkError } from "../../errors.js";
import { encodeImage, IMAGE_MEDIA_TYPE } from "./encode-image.js";
import { secretValues } from "./headers.js";
import { httpRequest, toOutcome } from "./http-exchange.js";
import { parseBody } from "./lenient-json.js";
import { parseRawBody, readRawAnswer } from "./raw-answer.js";
import type { BatchOutcome, ItemResult, QueryInput, SuspectAdapter } from "./types.js";
import { assertBatchShape } from "./wire.js";

export interface RawImageOptions {
  /** Where each image is POSTed, as given (no path is added). */
  url: string;
  target: string;
  headers: Readonly<Record<string, string>>;
  /** The certificate's class names in class order: answers name classes, never index them. */
  classNames: readonly string[];
  inputShape: readonly [number, number, number];
  format: "png" | "jpeg";
  timeoutMs?: number;
  now?: () => number;
}

/**
 * Image bytes in, class names out: one image per request (`Content-Type: image/png` or
 * `image/jpeg`), as Hugging Face Inference endpoints, SageMaker image classifiers and Teachable
 * Machine style servers take them; answers are read by `readRawAnswer`.
 *
 * A suspect that answers a class name the certificate does not list is a coded error
 * (ENDPOINT_CLASS_UNKNOWN), and so is one whose first answers cannot be read at all
 * (ENDPOINT_BAD_RESPONSE): either way no answer of the run could be read, so it stops at once.
 * Once an answer was read, an unreadable one is that query's failure, counted like any endpoint fault.
 */
export class RawImageAdapter implements SuspectAdapter {
  readonly protocol = "raw";
  readonly target: string;
  readonly maxBatch = 1;
  readonly encoding: "png" | "jpeg";
  readonly #o: RawImageOptions;
  readonly #secrets: string[];
  #answered = false;

  constructor(o: RawImageOptions) {
    this.#o = o;
    this.target = o.target;
    this.encoding = o.format;
    this.#secrets = secretValues(o.headers);
  }

  async send(batch: readonly QueryInput[], signal: AbortSignal): Promise<BatchOutcome> {
    assertBatchShape(batch, this.#o.inputShape);
    if (batch.length !== 1) throw new RangeError(`a raw endpoint takes one image per request, got ${batch.length}`);
    const body = await encodeImage(batch[0] as QueryInput, this.#o.format);
    const reply = await httpRequest({
      url: this.#o.url,
      method: "POST",
      headers: { "content-type": IMAGE_MEDIA_TYPE[this.#o.format], accept: "application/json", ...this.#o.headers },
      body,
      signal,
      ...(this.#o.timeoutMs === undefined ? {} : { timeoutMs: this.#o.timeoutMs }),
      ...(this.#o.now === undefined ? {} : { now: this.#o.now }),
    });
    const outcome = toOutcome(reply, body, 1, (b, n) => this.parse(b, n), this.#secrets);
    const item = outcome.items[0] as ItemResult;
    if (item.ok) this.#answered = true;
    else if (reply.body !== null && (item.failure === "unknown-class" || (!this.#answered && isReadFailure(item)))) {
      throw this.#readError(reply.body);
    }
    return outcome;
  }

  parse(responseBody: Uint8Array, batchSize: number): ItemResult[] {
    return parseRawBody(responseBody, batchSize, this.#o.classNames);
  }

  async close(): Promise<void> {}

  /** The coded error behind a failed read, with its hints (parse keeps only its message). */
  #readError(body: Uint8Array): ProvmarkError {
    const parsed = parseBody(body);
    try {
      if (parsed.ok) readRawAnswer(parsed.value, this.#o.classNames);
    } catch (e) {
      if (e instanceof ProvmarkError) return e;
      throw e;
    }
    return new ProvmarkError(
      "ENDPOINT_BAD_RESPONSE",
      `${this.target} answered an image with ${parsed.ok ? "JSON provmark does not read" : parsed.detail}`,
      {
        subject: "--endpoint",
        hints: ["Is this the model's image endpoint? A raw endpoint answers JSON for a POSTed image."],
      },
    );
  }
}

const isReadFailure = (it: ItemResult) => !it.ok && (it.failure === "malformed" || it.failure === "nonfinite");
