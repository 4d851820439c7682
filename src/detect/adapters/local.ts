import type * as tfTypes from "@tensorflow/tfjs";
import { canonicalJson } from "../../core/canonical-json.js";
import { utf8 } from "../../core/digest/bytes.js";
import { type ImageInput, toModelInput } from "../../core/input/model-io.js";
import { ProvmarkError } from "../../errors.js";
import { type BackendChoice, backendChoice, loadTf, type TF } from "../../model/backend.js";
import { loadLayersModel } from "../../model/fs-io-handler.js";
import { isTimeoutReason, sha256Hex } from "./http-exchange.js";
import { parseLocal } from "./local-parse.js";
import type { BatchOutcome, ItemResult, QueryInput, SuspectAdapter } from "./types.js";
import { assertBatchShape } from "./wire.js";

export interface LocalModelOptions {
  /** A LayersModel directory. */
  path: string;
  classes: number;
  inputShape: readonly [number, number, number];
  /** The certificate's image input: pixels go through its preprocessing (default pixel / 255). */
  input?: ImageInput;
  backend?: BackendChoice;
  /** Instances per predict call; default 64. */
  maxBatch?: number;
  /** "url": the model was fetched from `target` (default: "local", the path). */
  protocol?: "local" | "url";
  target?: string;
}

/**
 * A TF.js LayersModel on disk, queried in-process. Its "bodies" keep the evidence format uniform:
 * the request is the canonical JSON `{"inputs":[<sha256 of each input's pixels>],"shape":[h,w,c]}`,
 * the response `{"outputs":[[p0 … pC-1], …]}`.
 */
export class LocalModelAdapter implements SuspectAdapter {
  readonly protocol: "local" | "url";
  readonly target: string;
  readonly maxBatch: number;
  readonly #tf: TF;
  readonly #model: tfTypes.LayersModel;
  readonly #o: LocalModelOptions;

  private constructor(o: LocalModelOptions, tf: TF, model: tfTypes.LayersModel) {
    this.#o = o;
    this.#tf = tf;
    this.#model = model;
    this.protocol = o.protocol ?? "local";
    this.target = o.target ?? o.path;
    this.maxBatch = o.maxBatch ?? 64;
  }

  /** Loads the model and checks it takes `inputShape` and answers `classes` scores. */
  static async open(o: LocalModelOptions): Promise<LocalModelAdapter> {
    const { tf } = await loadTf(o.backend ?? backendChoice());
    const model = await loadLayersModel(tf, o.path);
    const input = model.inputs[0]?.shape ?? [];
    const output = model.outputs[0]?.shape ?? [];
    const [h, w, c] = o.inputShape;
    if (
      model.inputs.length !== 1 ||
      input.slice(1).join(",") !== `${h},${w},${c}` ||
      output.slice(1).join(",") !== String(o.classes)
    ) {
      model.dispose();
      throw new ProvmarkError(
        "SUSPECT_MODEL_MISMATCH",
        `${o.path} takes [${input.slice(1).join(",")}] and answers [${output.slice(1).join(",")}]; the queries are [${h},${w},${c}] for ${o.classes} classes`,
        { subject: o.path },
      );
    }
    return new LocalModelAdapter(o, tf, model);
  }

  async send(batch: readonly QueryInput[], signal: AbortSignal): Promise<BatchOutcome> {
    if (signal.aborted && !isTimeoutReason(signal.reason)) throw signal.reason;
    assertBatchShape(batch, this.#o.inputShape);
    const startedAt = new Date().toISOString();
    const t0 = performance.now();
    const [h, w, c] = this.#o.inputShape;
    const requestBody = utf8(canonicalJson({ inputs: batch.map((q) => sha256Hex(q.pixels)), shape: [h, w, c] }));
    const x = new Float32Array(batch.length * h * w * c);
    let off = 0;
    for (const q of batch) {
      if (this.#o.input) {
        x.set(toModelInput(this.#o.input, q.pixels), off);
        off += q.pixels.length;
      } else for (const p of q.pixels) x[off++] = p / 255;
    }
    const tf = this.#tf;
    const out = tf.tidy(() => this.#model.predict(tf.tensor4d(x, [batch.length, h, w, c])) as tfTypes.Tensor);
    let data: Float32Array;
    try {
      data = (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
    const C = this.#o.classes;
    const rows = Array.from({ length: batch.length }, (_, i) => Array.from(data.subarray(i * C, (i + 1) * C)));
    const responseBody = utf8(canonicalJson({ outputs: rows }));
    return {
      items: this.parse(responseBody, batch.length),
      exchange: {
        requestSha256: sha256Hex(requestBody),
        responseSha256: sha256Hex(responseBody),
        status: null,
        startedAt,
        ms: Math.round(performance.now() - t0),
        requestBytes: requestBody.length,
        responseBytes: responseBody.length,
      },
      requestBody,
      responseBody,
      retryable: false,
    };
  }

  parse(responseBody: Uint8Array, batchSize: number): ItemResult[] {
    return parseLocal(responseBody, batchSize, this.#o.classes);
  }

  async close(): Promise<void> {
    this.#model.dispose();
  }
}
