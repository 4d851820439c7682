/**
 * Decodes a prediction request's instances into model-space rows for the hooks: tensors as sent
 * (flattened row-major), encoded images through the model's ModelIO. Null when they cannot be
 * decoded; the upstream then judges the request itself.
 */
import type { ImageInput, ModelIO } from "../core/input/model-io.js";
import { isImagePlaceholder, type JsonApiConfig, placeholders } from "../detect/adapters/json-config.js";
import { getPath } from "../detect/adapters/json-path.js";
import { base64Bytes, imagesBatch } from "../serve/image-requests.js";
import type { GuardProtocol } from "./protocol.js";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** All numbers of a nested array in row-major order, or null if anything else is inside. */
export function flattenNumbers(v: unknown): Float32Array | null {
  const out: number[] = [];
  const walk = (x: unknown): boolean => {
    if (typeof x === "number") {
      out.push(x);
      return true;
    }
    return Array.isArray(x) && x.every(walk);
  };
  return walk(v) ? Float32Array.from(out) : null;
}

const single = (v: unknown): unknown => {
  if (!isObject(v)) return v;
  const keys = Object.keys(v);
  return keys.length === 1 ? v[keys[0] as string] : undefined;
};

const b64Of = (v: unknown): unknown => {
  if (!isObject(v)) return undefined;
  if ("b64" in v && Object.keys(v).length === 1) return v.b64;
  const inner = single(v);
  return isObject(inner) && "b64" in inner ? inner.b64 : undefined;
};

async function decodeImages(b64: readonly unknown[], io: ModelIO | undefined): Promise<Float32Array[] | null> {
  if (io === undefined || io.input.kind !== "image") return null;
  try {
    const images = b64.map((s, i) => base64Bytes(s, `[${i}]`));
    return await imageRows(images, io as ModelIO & { input: ImageInput });
  } catch {
    return null;
  }
}

async function imageRows(images: Uint8Array[], io: ModelIO & { input: ImageInput }): Promise<Float32Array[]> {
  const x = await imagesBatch(images, { ok: true, io }, "images");
  const size = io.input.height * io.input.width * io.input.channels;
  return images.map((_, i) => x.slice(i * size, (i + 1) * size));
}

function rows(list: readonly unknown[]): Float32Array[] | null {
  const out: Float32Array[] = [];
  for (const v of list) {
    const r = flattenNumbers(single(v));
    if (r === null) return null;
    out.push(r);
  }
  return out;
}

export interface InputContext {
  io?: ModelIO;
  json?: JsonApiConfig;
}

/** The request's instances as rows, or null. `body` is the raw request body. */
export async function decodeInputs(
  protocol: GuardProtocol,
  body: Buffer,
  ctx: InputContext,
): Promise<Float32Array[] | null> {
  if (protocol === "raw") {
    if (ctx.io === undefined || ctx.io.input.kind !== "image") return null;
    try {
      return await imageRows([new Uint8Array(body)], ctx.io as ModelIO & { input: ImageInput });
    } catch {
      return null;
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    return null;
  }
  if (protocol === "tfserving") {
    if (!isObject(json)) return null;
    if (Array.isArray(json.instances)) {
      const list = json.instances;
      const b64 = list.map(b64Of);
      if (list.length > 0 && b64.every((v) => v !== undefined)) return decodeImages(b64, ctx.io);
      return rows(list);
    }
    const tensor = single(json.inputs) ?? json.inputs;
    return Array.isArray(tensor) ? rows(tensor) : null;
  }
  if (protocol === "kserve") {
    const input = isObject(json) && Array.isArray(json.inputs) ? json.inputs[0] : undefined;
    if (!isObject(input) || !Array.isArray(input.shape) || !Array.isArray(input.data)) return null;
    if (input.datatype === "BYTES") return decodeImages(input.data, ctx.io);
    const n = input.shape[0];
    const flat = flattenNumbers(input.data);
    if (flat === null || typeof n !== "number" || n <= 0 || flat.length % n !== 0) return null;
    const size = flat.length / n;
    return Array.from({ length: n }, (_, i) => flat.slice(i * size, (i + 1) * size));
  }
  const config = ctx.json;
  const at = config === undefined ? undefined : placeholders(config.request)[0];
  if (config === undefined || at === undefined) return null;
  const got = getPath(json, at.path);
  if (!got.found) return null;
  const batched = config.batch !== false;
  const list = batched ? got.value : [got.value];
  if (!Array.isArray(list)) return null;
  if (isImagePlaceholder(at.placeholder)) return decodeImages(list, ctx.io);
  return rows(list);
}
