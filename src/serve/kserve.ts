/**
 * KServe v2, the Open Inference Protocol (https://kserve.github.io/website/docs/concepts/architecture/data-plane/v2-protocol):
 * request parsing and response bodies for `/infer`, model metadata and server metadata, over REST.
 */
import { VERSION } from "../version.js";
import { RequestError } from "./http.js";
import { base64Bytes } from "./image-requests.js";
import { type Batch, checkBatchSize, type ModelSignature, shapeText, writeFlat, writeNested } from "./tensor-json.js";
import { MODEL_VERSION } from "./tf-serving.js";

export const OUTPUT_NAME = "output_0";
export const PLATFORM = "tfjs";

/** Tensor datatypes whose JSON data are plain numbers; all are converted to float32. */
const NUMERIC = new Set([
  "FP32",
  "FP64",
  "FP16",
  "BF16",
  "INT8",
  "INT16",
  "INT32",
  "INT64",
  "UINT8",
  "UINT16",
  "UINT32",
  "UINT64",
]);

export type InferRequest = (Batch | { images: Uint8Array[]; n: number }) & {
  /** The request's id, echoed in the response. */
  id?: string;
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const isShape = (v: unknown): v is number[] =>
  Array.isArray(v) && v.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0);

/**
 * An `/infer` body: `{"id"?, "inputs": [{"name", "shape": [n, ...inputShape], "datatype": "FP32",
 * "data": [...]}], "outputs"?: [{"name": "output_0"}]}`. The shape may also be `[n, h*w*c]`; the
 * data flat (row-major) or nested as the shape. The input's name is not checked: the model has one.
 * A `BYTES` input of shape [n] carries n encoded images as base64 strings (the JSON form of BYTES
 * that image models served by KServe and Triton take), decoded by the model's input description.
 */
export function parseInferRequest(body: unknown, sig: ModelSignature, maxBatch: number): InferRequest {
  if (!isObject(body)) throw new RequestError(400, 'the request must be a JSON object with "inputs"');
  const { id, inputs, outputs } = body;
  if (id !== undefined && typeof id !== "string") throw new RequestError(400, '"id" must be a string');
  if (!Array.isArray(inputs)) throw new RequestError(400, '"inputs" must be an array of input tensors');
  if (inputs.length !== 1) {
    throw new RequestError(
      400,
      `"inputs" has ${inputs.length} tensors; the model has one input, ${JSON.stringify(sig.inputName)}`,
    );
  }
  const input = inputs[0];
  if (!isObject(input)) throw new RequestError(400, "inputs[0] must be an object {name, shape, datatype, data}");
  const { name, shape, datatype, data } = input;
  if (typeof name !== "string") throw new RequestError(400, "inputs[0].name must be a string");
  if (datatype === "BYTES") {
    if (!isShape(shape) || shape.length !== 1) {
      throw new RequestError(400, "inputs[0].shape must be [n] for BYTES (n encoded images)");
    }
    const n = shape[0] as number;
    checkBatchSize(n, maxBatch, "inputs[0]");
    if (!Array.isArray(data) || data.length !== n) {
      throw new RequestError(400, `inputs[0].data must be ${n} base64 strings (its shape says ${n})`);
    }
    checkOutputs(outputs);
    const images = data.map((v, i) => base64Bytes(v, `inputs[0].data[${i}]`));
    return { images, n, ...(id === undefined ? {} : { id }) };
  }
  if (typeof datatype !== "string" || !NUMERIC.has(datatype)) {
    throw new RequestError(
      400,
      `inputs[0].datatype ${JSON.stringify(datatype)} is not supported: use "FP32" (or "BYTES" for encoded images)`,
    );
  }
  const accepted = `[n, ${sig.inputShape.join(", ")}] or [n, ${sig.inputSize}]`;
  if (!isShape(shape) || shape.length < 2) {
    throw new RequestError(400, `inputs[0].shape must be an array of integers ${accepted}`);
  }
  const rest = shape.slice(1);
  const fits =
    (rest.length === sig.inputShape.length && rest.every((d, i) => d === sig.inputShape[i])) ||
    (rest.length === 1 && rest[0] === sig.inputSize);
  if (!fits) throw new RequestError(400, `inputs[0].shape ${shapeText(shape)} does not fit the model: use ${accepted}`);
  const n = shape[0] as number;
  checkBatchSize(n, maxBatch, "inputs[0]");
  if (!Array.isArray(data)) throw new RequestError(400, "inputs[0].data must be an array");
  const x = new Float32Array(n * sig.inputSize);
  if (data.length === x.length && (data.length === 0 || !Array.isArray(data[0]))) {
    writeFlat(data, x, 0, "inputs[0].data");
  } else if (data.length === n && Array.isArray(data[0])) {
    writeNested(data, shape, x, 0, "inputs[0].data");
  } else {
    throw new RequestError(
      400,
      `inputs[0].data must hold ${x.length} numbers (flat) or be nested as ${shapeText(shape)}; got an array of ${data.length}`,
    );
  }
  checkOutputs(outputs);
  return { x, n, ...(id === undefined ? {} : { id }) };
}

function checkOutputs(outputs: unknown): void {
  if (outputs === undefined) return;
  if (!Array.isArray(outputs)) throw new RequestError(400, '"outputs" must be an array of {name}');
  for (const [i, o] of outputs.entries()) {
    if (!isObject(o) || o.name !== OUTPUT_NAME) {
      throw new RequestError(400, `outputs[${i}] asks for an unknown output; the model has one, "${OUTPUT_NAME}"`);
    }
  }
}

/** `{"model_name", "model_version", "id"?, "outputs": [{"name", "shape": [n, C], "datatype", "data"}]}` */
export function inferResponse(model: string, y: Float32Array, n: number, classes: number, id?: string): string {
  return JSON.stringify({
    model_name: model,
    model_version: MODEL_VERSION,
    ...(id === undefined ? {} : { id }),
    outputs: [{ name: OUTPUT_NAME, shape: [n, classes], datatype: "FP32", data: Array.from(y) }],
  });
}

/** `GET /v2/models/{name}` */
export function modelMetadata(name: string, sig: ModelSignature): unknown {
  return {
    name,
    versions: [MODEL_VERSION],
    platform: PLATFORM,
    inputs: [{ name: sig.inputName, datatype: "FP32", shape: [-1, ...sig.inputShape] }],
    outputs: [{ name: OUTPUT_NAME, datatype: "FP32", shape: [-1, sig.classes] }],
  };
}

/** `GET /v2` */
export function serverMetadata(): unknown {
  return { name: "provmark", version: VERSION, extensions: [] };
}
