/**
 * TensorFlow Serving's REST API (https://www.tensorflow.org/tfx/serving/api_rest): request parsing
 * and response bodies for `:predict`, model status and model metadata.
 */
import { RequestError } from "./http.js";
import { base64Bytes } from "./image-requests.js";
import { type Batch, checkBatchSize, instancesBatch, type ModelSignature } from "./tensor-json.js";

/** The one version a served model has. */
export const MODEL_VERSION = "1";
export const SIGNATURE_NAME = "serving_default";

export type PredictRequest = (Batch | { images: Uint8Array[]; n: number }) & {
  /** `{"inputs": ...}` asked: answer `{"outputs": ...}`, as TF Serving does. */
  columnar: boolean;
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * A `:predict` body: row format `{"instances": [...]}` or columnar `{"inputs": [...]}` /
 * `{"inputs": {"<input name>": [...]}}`, optionally with `"signature_name": "serving_default"`.
 * Row instances may be encoded images, `{"b64": "<PNG/JPEG>"}` (TF Serving's binary form), or
 * `{"<input name>": {"b64": …}}`; the server decodes them by the model's input description.
 */
export function parsePredictRequest(body: unknown, sig: ModelSignature, maxBatch: number): PredictRequest {
  if (!isObject(body)) throw new RequestError(400, 'the request must be a JSON object with "instances" or "inputs"');
  const signature = body.signature_name;
  if (signature !== undefined && signature !== SIGNATURE_NAME && signature !== "") {
    throw new RequestError(
      400,
      `unknown signature_name ${JSON.stringify(signature)}: the model has only "${SIGNATURE_NAME}"`,
    );
  }
  const hasInstances = "instances" in body;
  const hasInputs = "inputs" in body;
  if (hasInstances === hasInputs) {
    throw new RequestError(
      400,
      hasInstances
        ? 'send either "instances" (row format) or "inputs" (columnar), not both'
        : 'missing "instances" (row format) or "inputs" (columnar format)',
    );
  }
  if (hasInstances) {
    const list = body.instances;
    if (!Array.isArray(list)) throw new RequestError(400, '"instances" must be a JSON array');
    const b64 = list.map(binaryValue);
    if (list.length > 0 && b64.every((v) => v !== undefined)) {
      checkBatchSize(list.length, maxBatch, "instances");
      const images = b64.map((v, i) => base64Bytes(v, `instances[${i}].b64`));
      return { images, n: images.length, columnar: false };
    }
    return { ...instancesBatch(list, sig, maxBatch, "instances"), columnar: false };
  }
  let tensor = body.inputs;
  let what = "inputs";
  if (isObject(tensor)) {
    const keys = Object.keys(tensor);
    const key = keys[0];
    if (keys.length !== 1 || key === undefined) {
      throw new RequestError(
        400,
        `"inputs" names ${keys.length} inputs; the model has one, ${JSON.stringify(sig.inputName)}`,
      );
    }
    tensor = tensor[key];
    what = `inputs.${key}`;
  }
  if (!Array.isArray(tensor)) {
    throw new RequestError(
      400,
      `"${what}" must be a batch: an array of instances (shape [n, ${sig.inputShape.join(", ")}])`,
    );
  }
  return { ...instancesBatch(tensor, sig, maxBatch, what), columnar: true };
}

/** `{"b64": s}` or `{"<input>": {"b64": s}}` → s (possibly not a string: base64Bytes says so). */
function binaryValue(v: unknown): unknown {
  if (!isObject(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length !== 1) return undefined;
  if (keys[0] === "b64") return v.b64 ?? null;
  const inner = v[keys[0] as string];
  return isObject(inner) && Object.keys(inner).length === 1 && "b64" in inner ? (inner.b64 ?? null) : undefined;
}

/** `{"predictions": [[p0, ...], ...]}`, or `{"outputs": [...]}` for a columnar request. */
export function predictResponse(y: Float32Array, n: number, classes: number, columnar: boolean): string {
  const rows: number[][] = new Array(n);
  for (let i = 0; i < n; i++) rows[i] = Array.from(y.subarray(i * classes, (i + 1) * classes));
  return JSON.stringify(columnar ? { outputs: rows } : { predictions: rows });
}

/** `GET /v1/models/{name}`: the one version, available. */
export function modelStatus(): unknown {
  return {
    model_version_status: [
      { version: MODEL_VERSION, state: "AVAILABLE", status: { error_code: "OK", error_message: "" } },
    ],
  };
}

const dims = (shape: readonly number[]) => ({
  dim: shape.map((size) => ({ size: String(size), name: "" })),
  unknown_rank: false,
});

/** `GET /v1/models/{name}/metadata`: the serving_default signature (sizes are strings, as int64 in JSON). */
export function modelMetadata(name: string, sig: ModelSignature): unknown {
  return {
    model_spec: { name, signature_name: "", version: MODEL_VERSION },
    metadata: {
      signature_def: {
        signature_def: {
          [SIGNATURE_NAME]: {
            inputs: {
              [sig.inputName]: {
                dtype: "DT_FLOAT",
                tensor_shape: dims([-1, ...sig.inputShape]),
                name: `${SIGNATURE_NAME}_${sig.inputName}:0`,
              },
            },
            outputs: {
              output_0: { dtype: "DT_FLOAT", tensor_shape: dims([-1, sig.classes]), name: "output_0:0" },
            },
            method_name: "tensorflow/serving/predict",
          },
        },
      },
    },
  };
}
