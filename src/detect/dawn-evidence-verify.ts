import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type DawnEvidenceReport, dawnEvidenceSchema } from "../core/detect/dawn-evidence.js";
import { checkDawnEvidence, type DawnRecheck, type DawnRecheckDeps } from "../core/detect/dawn-evidence-check.js";
import { fromModelInput, inputSize } from "../core/input/model-io.js";
import { isProvmarkError, ProvmarkError } from "../errors.js";
import { decodeImage } from "../model/decode-image.js";
import { decodeContentEncoding } from "./adapters/content-encoding.js";
import { MAX_RESPONSE_BYTES, sha256Hex } from "./adapters/http-exchange.js";
import { responseParser } from "./adapters/parse-response.js";
import { encodedImageAt } from "./evidence-images.js";
import { requestInstance } from "./evidence-verify.js";

export type { DawnCheck, DawnRecheck } from "../core/detect/dawn-evidence-check.js";

/**
 * Reads `<dir>/report.json` (or a report file) when it is a DAWN report (kind "dawn"); null for any
 * other kind, so `evidence verify` hands it to the trigger-report verifier.
 */
export async function readDawnEvidence(path: string): Promise<{ report: DawnEvidenceReport; dir: string } | null> {
  const file = path.endsWith(".json") ? path : join(path, "report.json");
  const dir = path.endsWith(".json") ? dirname(file) : path;
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, "utf8"));
  } catch {
    return null;
  }
  if ((json as { kind?: unknown } | null)?.kind !== "dawn") return null;
  const p = dawnEvidenceSchema.safeParse(json);
  if (!p.success) {
    const issue = p.error.issues[0];
    throw new ProvmarkError(
      "EVIDENCE_INVALID",
      `${file}: not a DAWN evidence report (${issue?.path.join(".")}: ${issue?.message})`,
      {
        subject: file,
      },
    );
  }
  return { report: p.data, dir };
}

/**
 * Re-checks a DAWN evidence report directory without the key (checkDawnEvidence, handed the stored
 * bodies and this protocol's readers): bodies, answers, sent inputs, coverage, counts, verdict.
 */
export function recheckDawnEvidence(
  report: DawnEvidenceReport,
  dir: string,
  policy: { alpha: number; maxFailureFraction: number },
  /** PNG runs: each request image decoded, keyed `<request sha>/<position>` (dawnRequestImages). */
  images: ReadonlyMap<string, Uint8Array | null> | null = null,
): DawnRecheck {
  const io = report.log.modelIO;
  const parse = responseParser(report.suspect.protocol, {
    classes: io.classes.count,
    classNames: io.classes.names,
    responseConfig: report.suspect.responseConfig,
  });
  const deps: DawnRecheckDeps = {
    body: (sha) => {
      if (!/^[0-9a-f]{64}$/.test(sha)) return null;
      try {
        return readFileSync(join(dir, "bodies", sha));
      } catch {
        return null;
      }
    },
    sha256: sha256Hex,
    parseResponse: (b, encoding, size) => {
      const d = decodeContentEncoding(b, encoding, MAX_RESPONSE_BYTES);
      return d.ok ? parse(d.body, size) : Array.from({ length: size }, () => null);
    },
    sentPixelsSha: sentPixelsReader(report, images),
  };
  return checkDawnEvidence(report, deps, policy);
}

/** How this report's requests give back the byte image sent; null when they cannot (JPEG, generic JSON). */
function sentPixelsReader(
  report: DawnEvidenceReport,
  images: ReadonlyMap<string, Uint8Array | null> | null,
): DawnRecheckDeps["sentPixelsSha"] {
  const { protocol, encoding } = report.suspect;
  const input = report.log.modelIO.input;
  if (input.kind !== "image") return null;
  if (encoding === "png" && images !== null) {
    return (_b, requestSha, position) => {
      const pixels = images.get(`${requestSha}/${position}`) ?? null;
      return pixels === null ? null : sha256Hex(pixels);
    };
  }
  if (encoding !== "tensor" || !["tfserving", "kserve", "local"].includes(protocol)) return null;
  return (b, _sha, position) => {
    const sent = requestInstance(protocol, b, position);
    if (sent === null) return null;
    if ("sha256" in sent) return sent.sha256;
    return "values" in sent && sent.values.length === inputSize(input)
      ? sha256Hex(fromModelInput(input, sent.values))
      : null;
  };
}

/**
 * The images of a PNG run's watermark requests, decoded at the log's input size (never resized), so
 * the pure re-check can hash them; null entries for bodies without an image that decodes.
 */
export async function dawnRequestImages(
  report: DawnEvidenceReport,
  dir: string,
): Promise<Map<string, Uint8Array | null> | null> {
  const input = report.log.modelIO.input;
  if (report.suspect.encoding !== "png" || input.kind !== "image") return null;
  const out = new Map<string, Uint8Array | null>();
  for (const q of report.queries) {
    if (q.kind !== "watermark" || q.requestSha256 === null || q.batchPosition === null) continue;
    const key = `${q.requestSha256}/${q.batchPosition}`;
    if (out.has(key)) continue;
    let b: Buffer | null = null;
    try {
      b = /^[0-9a-f]{64}$/.test(q.requestSha256) ? readFileSync(join(dir, "bodies", q.requestSha256)) : null;
    } catch {
      b = null;
    }
    const image = b === null ? null : encodedImageAt(report.suspect.protocol, b, q.batchPosition, null);
    let pixels: Uint8Array | null = null;
    if (image !== null) {
      try {
        pixels = await decodeImage(image, input, `the request image of ${q.id}`, { resize: false });
      } catch (e) {
        if (!isProvmarkError(e)) throw e;
      }
    }
    out.set(key, pixels);
  }
  return out;
}

/** Reads and re-checks a DAWN report directory (null when it is not one): what `evidence verify` runs. */
export async function verifyDawnEvidence(
  path: string,
  policy: { alpha: number; maxFailureFraction: number },
): Promise<{ report: DawnEvidenceReport; check: DawnRecheck } | null> {
  const dawn = await readDawnEvidence(path);
  if (dawn === null) return null;
  const images = await dawnRequestImages(dawn.report, dawn.dir);
  return { report: dawn.report, check: recheckDawnEvidence(dawn.report, dawn.dir, policy, images) };
}
