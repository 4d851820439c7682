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
import { certificateClasses, certificateIO } from "../core/watermark/certificate.js";
import { ProvmarkError } from "../errors.js";
import { readJsonFile } from "../watermark/read-json.js";
import { decodeContentEncoding } from "./adapters/content-encoding.js";
import { MAX_RESPONSE_BYTES, sha256Hex } from "./adapters/http-exchange.js";
import { responseParser } from "./adapters/parse-response.js";
import { certificateNumberProblems } from "./certificate-numbers.js";
import { decodeRequestImages } from "./evidence-images.js";

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
export async function verifyEvidence(
  path: string,
  policy: VerifierPolicy = DEFAULT_VERIFIER_POLICY,
): Promise<{ report: EvidenceReport; check: RecheckResult }> {
  const { report, dir } = await readEvidence(path);
  const io = certificateIO(report.certificate.document);
  const parse = responseParser(report.suspect.protocol, {
    classes: certificateClasses(report.certificate.document),
    classNames: io.classes.names,
    responseConfig: report.suspect.responseConfig,
  });
  const decode = storedBodyDecoder(report);
  const body = (sha: string) => {
    if (!/^[0-9a-f]{64}$/.test(sha)) return null;
    try {
      return readFileSync(join(dir, "bodies", sha));
    } catch {
      return null;
    }
  };
  const encoding = report.suspect.encoding;
  const images =
    encoding !== "tensor" && io.input.kind === "image"
      ? await decodeRequestImages(report, io.input, body)
      : new Map<string, Uint8Array | null>();
  const check = recheckEvidence(
    report,
    {
      body,
      sha256: sha256Hex,
      parseResponse: (body, size) => {
        const decoded = decode(body);
        return decoded === null ? Array.from({ length: size }, () => null) : parse(decoded, size);
      },
      requestInstance: (b, position): SentInstance => {
        if (encoding === "tensor") return requestInstance(report.suspect.protocol, b, position, report.suspect.request);
        const pixels = images.get(`${sha256Hex(b)}/${position}`) ?? null;
        return pixels === null ? null : { pixels, lossy: encoding === "jpeg" };
      },
    },
    policy,
  );
  if (report.suspect.protocol === "url") {
    const { recheckDownload } = await import("./url/recheck-download.js");
    check.checks.push(...(await recheckDownload(report, dir, check.recomputed, policy)));
    check.ok = check.checks.every((c) => c.status !== "fail");
  }
  return { report, check };
}

/**
 * Stored response bodies are the bytes as received: each is decoded by the Content-Encoding its rows
 * recorded before it is parsed (null when it does not decode, or its rows disagree on the encoding).
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

const numbers = (v: unknown): Float32Array | null => {
  if (!Array.isArray(v)) return null;
  const flat = v.flat(8) as unknown[];
  return flat.every((x) => typeof x === "number") ? Float32Array.from(flat as number[]) : null;
};

/**
 * Instance `position` of a request body as the verifier reads it back: the numbers of a TF Serving,
 * KServe v2 or generic JSON request, the input hash of a local run. A body of any other shape gives
 * null, and the check that needs it fails, naming the query: a forged report is INVALID, never a crash.
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
  if (json === null || typeof json !== "object" || !Number.isInteger(position) || position < 0) return null;
  if (protocol === "tfserving") {
    const instances = (json as { instances?: unknown }).instances;
    const values = Array.isArray(instances) ? numbers(instances[position]) : null;
    return values ? { values } : null;
  }
  if (protocol === "kserve") {
    const inputs = (json as { inputs?: unknown }).inputs;
    const input = (Array.isArray(inputs) ? inputs[0] : undefined) as { shape?: unknown; data?: unknown } | undefined;
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
  if (protocol === "local" || protocol === "url") {
    const inputs = (json as { inputs?: unknown }).inputs;
    const sha = Array.isArray(inputs) ? inputs[position] : undefined;
    return typeof sha === "string" && /^[0-9a-f]{64}$/.test(sha) ? { sha256: sha } : null;
  }
  return null;
}
