/**
 * Encoded images on the serving wire: TF Serving's `{"b64": …}` instances, KServe's BYTES inputs,
 * and raw image bodies, decoded to the model's numbers by its ModelIO (size by its resize policy,
 * then its channel order and preprocessing).
 */
import type { IncomingMessage } from "node:http";
import { type ImageInput, type ModelIO, toModelInput } from "../core/input/model-io.js";
import { isProvmarkError } from "../errors.js";
import { decodeImage } from "../model/decode-image.js";
import { RequestError } from "./http.js";

/** What serve knows about a model's image input: its ModelIO, or why encoded images cannot be taken. */
export type ImageIO = { ok: true; io: ModelIO & { input: ImageInput } } | { ok: false; why: string };

/** Base64 text → bytes, refusing what is not strict base64 (Buffer.from would silently skip it). */
export function base64Bytes(v: unknown, where: string): Uint8Array {
  if (typeof v !== "string" || v.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) {
    throw new RequestError(400, `${where} must be a base64 string (an encoded PNG, JPEG or WebP image)`);
  }
  return new Uint8Array(Buffer.from(v, "base64"));
}

/** Decodes `images` into one row-major float32 batch the model takes; a bad image is a 400 naming it. */
export async function imagesBatch(images: readonly Uint8Array[], io: ImageIO, what: string): Promise<Float32Array> {
  if (!io.ok) throw new RequestError(400, `this server cannot decode images: ${io.why}`);
  const spec = io.io.input;
  const size = spec.height * spec.width * spec.channels;
  const x = new Float32Array(images.length * size);
  for (const [i, bytes] of images.entries()) {
    let pixels: Uint8Array;
    try {
      pixels = await decodeImage(bytes, spec, `${what}[${i}]`);
    } catch (e) {
      if (isProvmarkError(e) && e.code.startsWith("IMAGE_")) throw new RequestError(400, e.message);
      throw e;
    }
    x.set(toModelInput(spec, pixels), i * size);
  }
  return x;
}

/** A raw image body's media type: image/*, application/octet-stream, or none. */
export function assertImageContentType(req: Pick<IncomingMessage, "headers">): void {
  const header = req.headers["content-type"];
  if (header === undefined || header.trim() === "") return;
  const type = (header.split(";")[0] ?? "").trim().toLowerCase();
  if (type.startsWith("image/") || type === "application/octet-stream" || type === "*/*") return;
  throw new RequestError(415, `unsupported content-type ${JSON.stringify(header)}: POST the image's bytes (image/png)`);
}

/** `[{label, score}, …]`, highest score first (ties in class order), labels the model's class names. */
export function classifyResponse(y: Float32Array, classNames: readonly string[] | undefined): string {
  const rows = Array.from(y, (score, i) => ({ label: classNames?.[i] ?? String(i), score, i }));
  rows.sort((a, b) => b.score - a.score || a.i - b.i);
  return JSON.stringify(rows.map(({ label, score }) => ({ label, score })));
}
