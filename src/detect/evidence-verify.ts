import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type EvidenceReport, evidenceSchema, type RecheckResult, recheckEvidence } from "../core/detect/evidence.js";
import { ProvmarkError } from "../errors.js";
import { readJsonFile } from "../watermark/read-json.js";
import { decodeContentEncoding } from "./adapters/content-encoding.js";
import { MAX_RESPONSE_BYTES, sha256Hex } from "./adapters/http-exchange.js";
import { responseParser } from "./adapters/parse-response.js";
import { certificateNumberProblems } from "./certificate-numbers.js";

/** Reads `<dir>/report.json` (or a report file) and validates it against the evidence schema. */
export async function readEvidence(path: string): Promise<{ report: EvidenceReport; dir: string }> {
  const file = path.endsWith(".json") ? path : join(path, "report.json");
  const dir = path.endsWith(".json") ? join(path, "..") : path;
  const report = await readJsonFile(file, evidenceSchema, "provmark evidence report", "EVIDENCE_INVALID");
  const problems = certificateNumberProblems(report.certificate.document, "certificate.document.");
  if (problems.length > 0) {
    throw new ProvmarkError("EVIDENCE_INVALID", `${file}: ${problems.join("; ")}`, {
      subject: file,
      hints: ["No release has such a certificate: the report was edited or is not provmark's."],
    });
  }
  return { report, dir };
}

/** Re-checks a report directory without the secret key (see recheckEvidence for what is checked). */
export async function verifyEvidence(path: string): Promise<{ report: EvidenceReport; check: RecheckResult }> {
  const { report, dir } = await readEvidence(path);
  const parse = responseParser(report.suspect.protocol, {
    classes: report.certificate.document.input.classes,
    responseConfig: report.suspect.responseConfig,
  });
  const decode = storedBodyDecoder(report);
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
    parseResponse: (body, size) => {
      const decoded = decode(body);
      return decoded === null ? Array.from({ length: size }, () => null) : parse(decoded, size);
    },
    requestInstance: (body, position) => requestInstance(report.suspect.protocol, body, position),
  });
  return { report, check };
}

/**
 * Stored response bodies are the bytes as received: each is decoded by the Content-Encoding its rows
 * recorded before it is parsed (null when it does not decode, or its rows disagree on the encoding).
 * Reports of earlier versions record none: their bodies were stored decoded.
 */
function storedBodyDecoder(report: EvidenceReport): (body: Uint8Array) => Uint8Array | null {
  const encodings = new Map<string, string | null>();
  const conflicting = new Set<string>();
  for (const q of report.queries) {
    if (q.responseSha256 === null) continue;
    const enc = q.response?.encoding ?? null;
    const had = encodings.get(q.responseSha256);
    if (had !== undefined && had !== enc) conflicting.add(q.responseSha256);
    encodings.set(q.responseSha256, enc);
  }
  const decoded = new Map<string, Uint8Array | null>();
  return (body) => {
    const sha = sha256Hex(body);
    if (conflicting.has(sha)) return null;
    if (!decoded.has(sha)) {
      const d = decodeContentEncoding(body, encodings.get(sha) ?? null, MAX_RESPONSE_BYTES);
      decoded.set(sha, d.ok ? d.body : null);
    }
    return decoded.get(sha) ?? null;
  };
}

/**
 * Instance `position` of a TF Serving or KServe v2 request, flattened; null for protocols whose
 * requests it cannot read (json, local). A request body that is not such a request, or lacks that
 * instance, is EVIDENCE_INVALID naming the body: its hash matched, so the report claims it was sent.
 */
export function requestInstance(protocol: string, body: Uint8Array, position: number): Float32Array | null {
  if (protocol !== "tfserving" && protocol !== "kserve") return null;
  const bad = (why: string) =>
    new ProvmarkError("EVIDENCE_INVALID", `request body ${sha256Hex(body)} ${why}`, {
      subject: "bodies",
      hints: ["The evidence's bodies were edited, or the report names another protocol than was used."],
    });
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body).toString("utf8"));
  } catch {
    throw bad(`is not JSON (a ${protocol} request is)`);
  }
  const numbers = (v: unknown, what: string): number[] => {
    const flat = Array.isArray(v) ? (v.flat(8) as unknown[]) : [v];
    if (!Array.isArray(v) || !flat.every((x) => typeof x === "number")) throw bad(`: ${what} is not a list of numbers`);
    return flat as number[];
  };
  if (protocol === "tfserving") {
    const instances = (json as { instances?: unknown } | null)?.instances;
    if (!Array.isArray(instances)) throw bad('has no "instances" list');
    if (!(position >= 0 && position < instances.length)) {
      throw bad(`has ${instances.length} instances, none at position ${position}`);
    }
    return Float32Array.from(numbers(instances[position], `instances[${position}]`));
  }
  const input = ((json as { inputs?: unknown } | null)?.inputs as unknown[] | undefined)?.[0] as
    | { shape?: unknown; data?: unknown }
    | undefined;
  if (input === null || typeof input !== "object") throw bad('has no "inputs" tensor');
  const shape = input.shape;
  if (!Array.isArray(shape) || shape.length < 1 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw bad(": inputs[0].shape is not a list of sizes");
  }
  const per = (shape as number[]).slice(1).reduce((a, b) => a * b, 1);
  const flat = numbers(input.data, "inputs[0].data");
  if (!(position >= 0 && (position + 1) * per <= flat.length)) {
    throw bad(`holds ${flat.length} values, too few for instance ${position} of ${per}`);
  }
  return Float32Array.from(flat.slice(position * per, (position + 1) * per));
}
