import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type EvidenceReport, evidenceSchema } from "../core/detect/evidence.js";
import {
  DEFAULT_VERIFIER_POLICY,
  type RecheckResult,
  recheckEvidence,
  type SentInstance,
  type VerifierPolicy,
} from "../core/detect/evidence-check.js";
import { certificateClasses } from "../core/watermark/certificate.js";
import { readJsonFile } from "../watermark/read-json.js";
import { responseParser } from "./adapters/parse-response.js";

/** Reads `<dir>/report.json` (or a report file) and validates it against the evidence schema. */
export async function readEvidence(path: string): Promise<{ report: EvidenceReport; dir: string }> {
  const file = path.endsWith(".json") ? path : join(path, "report.json");
  const dir = path.endsWith(".json") ? join(path, "..") : path;
  return { report: await readJsonFile(file, evidenceSchema, "provmark evidence report", "EVIDENCE_INVALID"), dir };
}

/** Re-checks a report directory without the secret key (see recheckEvidence for what is checked). */
export async function verifyEvidence(
  path: string,
  policy: VerifierPolicy = DEFAULT_VERIFIER_POLICY,
): Promise<{ report: EvidenceReport; check: RecheckResult }> {
  const { report, dir } = await readEvidence(path);
  const parse = responseParser(report.suspect.protocol, {
    classes: certificateClasses(report.certificate.document),
    responseConfig: report.suspect.responseConfig,
  });
  const check = recheckEvidence(
    report,
    {
      body: (sha) => {
        if (!/^[0-9a-f]{64}$/.test(sha)) return null;
        try {
          return readFileSync(join(dir, "bodies", sha));
        } catch {
          return null;
        }
      },
      parseResponse: (body, size) => parse(body, size),
      requestInstance: (body, position) =>
        requestInstance(report.suspect.protocol, body, position, report.suspect.request),
    },
    policy,
  );
  return { report, check };
}

const numbers = (v: unknown): Float32Array | null => {
  if (!Array.isArray(v)) return null;
  const flat = v.flat(8) as unknown[];
  return flat.every((x) => typeof x === "number") ? Float32Array.from(flat as number[]) : null;
};

/**
 * Instance `position` of a request body as the verifier reads it back: the numbers of a TF Serving or
 * KServe v2 request, the input hash of a local run; null when the body cannot be read that way (the
 * check that needs it then fails, by name).
 */
export function requestInstance(
  protocol: string,
  body: Uint8Array,
  position: number,
  request: EvidenceReport["suspect"]["request"] = null,
): SentInstance {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body).toString("utf8"));
  } catch {
    return null;
  }
  if (json === null || typeof json !== "object") return null;
  if (protocol === "tfserving") {
    const values = numbers((json as { instances?: unknown[] }).instances?.[position]);
    return values ? { values } : null;
  }
  if (protocol === "kserve") {
    const input = (json as { inputs?: { shape?: unknown; data?: unknown }[] }).inputs?.[0];
    const shape = input?.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d > 0)) return null;
    const all = numbers(input?.data);
    const per = (shape as number[]).slice(1).reduce((a, b) => a * b, 1);
    if (!all || all.length < (position + 1) * per) return null;
    return { values: all.slice(position * per, (position + 1) * per) };
  }
  if (protocol === "json" && request) {
    let slot: unknown = json;
    for (const seg of request.inputPath) {
      slot = slot !== null && typeof slot === "object" ? (slot as Record<string | number, unknown>)[seg] : undefined;
    }
    const values = numbers(
      request.batch ? (Array.isArray(slot) ? slot[position] : undefined) : position === 0 ? slot : undefined,
    );
    return values ? { values, scale: request.scale } : null;
  }
  if (protocol === "local") {
    const sha = (json as { inputs?: unknown[] }).inputs?.[position];
    return typeof sha === "string" && /^[0-9a-f]{64}$/.test(sha) ? { sha256: sha } : null;
  }
  return null;
}
