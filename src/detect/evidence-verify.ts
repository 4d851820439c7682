import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type EvidenceReport, evidenceSchema, type RecheckResult, recheckEvidence } from "../core/detect/evidence.js";
import { readJsonFile } from "../watermark/read-json.js";
import { sha256Hex } from "./adapters/http-exchange.js";
import { responseParser } from "./adapters/parse-response.js";

/** Reads `<dir>/report.json` (or a report file) and validates it against the evidence schema. */
export async function readEvidence(path: string): Promise<{ report: EvidenceReport; dir: string }> {
  const file = path.endsWith(".json") ? path : join(path, "report.json");
  const dir = path.endsWith(".json") ? join(path, "..") : path;
  return { report: await readJsonFile(file, evidenceSchema, "provmark evidence report", "EVIDENCE_INVALID"), dir };
}

/** Re-checks a report directory without the secret key (see recheckEvidence for what is checked). */
export async function verifyEvidence(path: string): Promise<{ report: EvidenceReport; check: RecheckResult }> {
  const { report, dir } = await readEvidence(path);
  const parse = responseParser(report.suspect.protocol, {
    classes: report.certificate.document.input.classes,
    responseConfig: report.suspect.responseConfig,
  });
  const check = recheckEvidence(report, {
    body: (sha) => {
      if (!/^[0-9a-f]{64}$/.test(sha)) return null;
      try {
        return readFileSync(join(dir, "bodies", sha));
      } catch {
        return null;
      }
    },
    sha256: sha256Hex,
    parseResponse: (body, size) => parse(body, size),
    requestInstance: (body, position) => requestInstance(report.suspect.protocol, body, position),
  });
  return { report, check };
}

/** Instance `position` of a TF Serving or KServe v2 request, flattened; null for other protocols. */
export function requestInstance(protocol: string, body: Uint8Array, position: number): Float32Array | null {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body).toString("utf8"));
  } catch {
    return null;
  }
  if (protocol === "tfserving") {
    const inst = (json as { instances?: unknown[] }).instances?.[position];
    return inst === undefined ? null : Float32Array.from((inst as unknown[]).flat(4) as number[]);
  }
  if (protocol === "kserve") {
    const input = (json as { inputs?: { shape?: number[]; data?: unknown[] }[] }).inputs?.[0];
    if (!input?.shape || !input.data) return null;
    const per = input.shape.slice(1).reduce((a, b) => a * b, 1);
    const flat = (input.data as unknown[]).flat(5) as number[];
    return Float32Array.from(flat.slice(position * per, (position + 1) * per));
  }
  return null;
}
