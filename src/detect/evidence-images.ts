import type { EvidenceReport } from "../core/detect/evidence.js";
import type { ImageInput } from "../core/input/model-io.js";
import { isProvmarkError } from "../errors.js";
import { decodeImage } from "../model/decode-image.js";

/**
 * The encoded image at `position` of a request body, as the adapter of `protocol` wrote it: the
 * whole body (raw), `instances[i].b64` (tfserving), the BYTES input's `data[i]` (kserve), or the
 * base64 string in the json config's input slot. Null for any other shape.
 */
export function encodedImageAt(
  protocol: string,
  body: Uint8Array,
  position: number,
  request: EvidenceReport["suspect"]["request"],
): Uint8Array | null {
  if (!Number.isInteger(position) || position < 0) return null;
  if (protocol === "raw") return position === 0 ? body : null;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body).toString("utf8"));
  } catch {
    return null;
  }
  let b64: unknown;
  if (protocol === "tfserving") {
    const instances = (json as { instances?: unknown } | null)?.instances;
    b64 = Array.isArray(instances) ? (instances[position] as { b64?: unknown } | null)?.b64 : undefined;
  } else if (protocol === "kserve") {
    const inputs = (json as { inputs?: unknown } | null)?.inputs;
    const input = (Array.isArray(inputs) ? inputs[0] : undefined) as { datatype?: unknown; data?: unknown } | undefined;
    b64 = input?.datatype === "BYTES" && Array.isArray(input.data) ? input.data[position] : undefined;
  } else if (protocol === "json" && request) {
    let slot: unknown = json;
    for (const seg of request.inputPath) {
      slot = slot !== null && typeof slot === "object" ? (slot as Record<string | number, unknown>)[seg] : undefined;
    }
    b64 = request.batch ? (Array.isArray(slot) ? slot[position] : undefined) : position === 0 ? slot : undefined;
  }
  // Strict base64 only: Buffer.from would skip stray characters and decode something else.
  if (typeof b64 !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return null;
  return new Uint8Array(Buffer.from(b64, "base64"));
}

/**
 * Decodes the image every trigger row of an encoded-image report sent, keyed `<request sha>/<position>`:
 * its pixels at the certificate's size (never resized: a request image of another size is not the
 * trigger), or null when the body holds no image there or it does not decode. Done before the pure
 * re-check, which cannot decode images; bodies not in the evidence are left to that check.
 */
export async function decodeRequestImages(
  report: EvidenceReport,
  spec: ImageInput,
  body: (sha256: string) => Uint8Array | null,
): Promise<Map<string, Uint8Array | null>> {
  const out = new Map<string, Uint8Array | null>();
  for (const q of report.queries) {
    if (q.kind !== "trigger" || q.requestSha256 === null || q.batchPosition === null) continue;
    const key = `${q.requestSha256}/${q.batchPosition}`;
    if (out.has(key)) continue;
    const b = body(q.requestSha256);
    const image =
      b === null ? null : encodedImageAt(report.suspect.protocol, b, q.batchPosition, report.suspect.request);
    out.set(key, image === null ? null : await decodeOrNull(image, spec, q.id));
  }
  return out;
}

async function decodeOrNull(image: Uint8Array, spec: ImageInput, id: string): Promise<Uint8Array | null> {
  try {
    return await decodeImage(image, spec, `the request image of ${id}`, { resize: false });
  } catch (e) {
    // a forged body is a failed check naming the query, never a crash
    if (isProvmarkError(e)) return null;
    throw e;
  }
}
