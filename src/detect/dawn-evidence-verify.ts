import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  type DawnEvidenceReport,
  type DawnResult,
  dawnEvidenceSchema,
  dawnOutcomes,
  decideDawn,
} from "../core/detect/dawn-evidence.js";
import { fromModelInput, inputSize } from "../core/input/model-io.js";
import { isProvmarkError, ProvmarkError } from "../errors.js";
import { decodeImage } from "../model/decode-image.js";
import { decodeContentEncoding } from "./adapters/content-encoding.js";
import { MAX_RESPONSE_BYTES, sha256Hex } from "./adapters/http-exchange.js";
import { responseParser } from "./adapters/parse-response.js";
import { encodedImageAt } from "./evidence-images.js";
import { requestInstance } from "./evidence-verify.js";

export interface DawnCheck {
  name: string;
  status: "pass" | "fail" | "warn";
  detail: string;
}

export interface DawnRecheck {
  ok: boolean;
  checks: DawnCheck[];
  /** The verdict from the answers re-read from the stored bodies, at the verifier's α. */
  recomputed: DawnResult;
  caveats: string[];
}

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
 * Re-checks a DAWN evidence report without the key: every request and response body against its
 * SHA-256, every answer (and claimed failure) re-read from its response, the match counts and each
 * client's p-value recomputed at the verifier's α. The altered labels themselves are the owner's
 * claim (bound by the log's hash): they cannot be re-derived without the key, and the report says so.
 */
export function recheckDawnEvidence(
  report: DawnEvidenceReport,
  dir: string,
  policy: { alpha: number; maxFailureFraction: number },
  /** PNG runs: each request image decoded, keyed `<request sha>/<position>` (dawnRequestImages). */
  images: ReadonlyMap<string, Uint8Array | null> | null = null,
): DawnRecheck {
  const checks: DawnCheck[] = [];
  const body = (sha: string): Buffer | null => {
    if (!/^[0-9a-f]{64}$/.test(sha)) return null;
    try {
      return readFileSync(join(dir, "bodies", sha));
    } catch {
      return null;
    }
  };
  const io = report.log.modelIO;
  const parse = responseParser(report.suspect.protocol, {
    classes: io.classes.count,
    classNames: io.classes.names,
    responseConfig: report.suspect.responseConfig,
  });
  const badBodies: string[] = [];
  const badAnswers: string[] = [];
  const reread = new Map<string, (number | null)[]>();
  const answers = report.queries.map((q) => {
    if (q.requestSha256 !== null) {
      const b = body(q.requestSha256);
      if (b === null || sha256Hex(b) !== q.requestSha256) badBodies.push(`${q.id} (request)`);
    }
    if (q.responseSha256 === null || q.batchSize === null || q.batchPosition === null) {
      if (q.got !== null) badAnswers.push(`${q.id}: an answer without a response`);
      return null;
    }
    let labels = reread.get(`${q.responseSha256}/${q.batchSize}`);
    if (labels === undefined) {
      const b = body(q.responseSha256);
      if (b === null || sha256Hex(b) !== q.responseSha256) {
        if (q.response?.withheld === undefined) badBodies.push(`${q.id} (response)`);
        labels = Array.from({ length: q.batchSize }, () => null);
      } else {
        const d = decodeContentEncoding(b, q.response?.encoding ?? null, MAX_RESPONSE_BYTES);
        labels = d.ok ? parse(d.body, q.batchSize) : Array.from({ length: q.batchSize }, () => null);
      }
      reread.set(`${q.responseSha256}/${q.batchSize}`, labels);
    }
    const got = labels[q.batchPosition] ?? null;
    // A withheld body (it echoed a credential) cannot be re-read: its answer counts as a failure.
    if (q.response?.withheld !== undefined) return null;
    if (got !== q.got) badAnswers.push(`${q.id}: report says ${q.got ?? "failed"}, the body says ${got ?? "failed"}`);
    return got;
  });
  checks.push({
    name: "bodies",
    status: badBodies.length ? "fail" : "pass",
    detail: badBodies.length ? `missing or altered: ${list(badBodies)}` : "every stored body matches its SHA-256",
  });
  checks.push({
    name: "answers",
    status: badAnswers.length ? "fail" : "pass",
    detail: badAnswers.length ? list(badAnswers) : "every answer and failure re-read from its response",
  });
  const badNull = report.queries.filter(
    (q) => q.kind === "watermark" && q.nullProbability !== 1 / (io.classes.count - 1),
  );
  checks.push({
    name: "null",
    status: badNull.length ? "fail" : "pass",
    detail: badNull.length
      ? `null probabilities other than 1/(C−1): ${list(badNull.map((q) => q.id))}`
      : `1/(C−1) = 1/${io.classes.count - 1} per distinct input`,
  });
  checks.push(sentInputs(report, body, images));
  checks.push(logCoverage(report));
  const dupes = duplicateInputs(report);
  checks.push({
    name: "distinct inputs",
    status: dupes.length ? "fail" : "pass",
    detail: dupes.length ? `inputs counted twice for one client: ${list(dupes)}` : "each input counted once per client",
  });
  const replayed = report.queries.map((q, i) => ({ ...q, got: answers[i] ?? null }));
  const { clients, result } = decideDawn(dawnOutcomes(replayed, io.classes.count), {
    ...policy,
    complete: report.run.complete,
  });
  const countErrors = clients.flatMap((c) => {
    const claimed = report.clients.find((x) => x.client === c.client)?.decision;
    return claimed && claimed.matches === c.decision.matches && claimed.planned === c.decision.planned
      ? []
      : [
          `${c.client}: report says ${claimed?.matches ?? "—"} of ${claimed?.planned ?? "—"}, recount ${c.decision.matches} of ${c.decision.planned}`,
        ];
  });
  if (report.clients.length !== clients.length)
    countErrors.push(`report lists ${report.clients.length} clients, the queries ${clients.length}`);
  if (report.result.matches !== result.matches || report.result.client !== result.client) {
    countErrors.push(
      `result says ${report.result.matches} matches (${report.result.client}), recount ${result.matches} (${result.client})`,
    );
  }
  checks.push({
    name: "match counts",
    status: countErrors.length ? "fail" : "pass",
    detail: countErrors.length ? list(countErrors) : `${result.matches} of ${result.planned} for ${result.client}`,
  });
  const sameVerdict = report.result.verdict === result.verdict;
  checks.push({
    name: "verdict",
    status: sameVerdict ? "pass" : "fail",
    detail: `recomputed ${result.verdict} at α = ${policy.alpha} (log10 p = ${result.log10PValue.toFixed(2)}); report says ${report.result.verdict}`,
  });
  return {
    ok: checks.every((c) => c.status !== "fail"),
    checks,
    recomputed: result,
    caveats: [report.claim, ...report.warnings],
  };
}

/**
 * Each watermark query's image found in its request body: the numbers of a TF Serving or KServe
 * request turned back into bytes (fromModelInput), or the input hash of a local run, against the
 * report's pixelsSha256. Encoded images and generic JSON bodies are not re-read here (a warning).
 */
function sentInputs(
  report: DawnEvidenceReport,
  body: (sha: string) => Buffer | null,
  images: ReadonlyMap<string, Uint8Array | null> | null,
): DawnCheck {
  const { protocol, encoding } = report.suspect;
  const input = report.log.modelIO.input;
  const tensors = encoding === "tensor" && ["tfserving", "kserve", "local"].includes(protocol);
  const png = encoding === "png" && images !== null;
  if (input.kind !== "image" || !(tensors || png)) {
    return {
      name: "sent inputs",
      status: "warn",
      detail: `${protocol} ${encoding} requests are not re-read: the inputs sent rest on the request hashes`,
    };
  }
  const bad: string[] = [];
  for (const q of report.queries) {
    if (q.kind !== "watermark" || q.requestSha256 === null || q.batchPosition === null) continue;
    let sha: string | null = null;
    if (png) {
      const pixels = images?.get(`${q.requestSha256}/${q.batchPosition}`) ?? null;
      sha = pixels === null ? null : sha256Hex(pixels);
    } else {
      const b = body(q.requestSha256);
      const sent = b === null ? null : requestInstance(protocol, b, q.batchPosition);
      sha =
        sent === null
          ? null
          : "sha256" in sent
            ? sent.sha256
            : "values" in sent && sent.values.length === inputSize(input)
              ? sha256Hex(fromModelInput(input, sent.values))
              : null;
    }
    if (sha !== q.pixelsSha256) bad.push(q.id);
  }
  return {
    name: "sent inputs",
    status: bad.length ? "fail" : "pass",
    detail: bad.length
      ? `requests that do not hold the input the report names: ${list(bad)}`
      : `every replayed input found in its request${png ? " (PNG decoded)" : ""}`,
  };
}

/**
 * Every logged record replayed (or counted as a repeat) once: a report that dropped its unwelcome
 * queries would have fewer. Which records belong to a client, and their labels, stay the owner's claim.
 */
function logCoverage(report: DawnEvidenceReport): DawnCheck {
  const w = report.queries.filter((q) => q.kind === "watermark");
  const seqs = new Set<number>();
  const bad: string[] = [];
  for (const q of w) {
    if (q.seq === null || q.seq < 0 || q.seq >= report.log.records || seqs.has(q.seq)) bad.push(q.id);
    else seqs.add(q.seq);
  }
  const all = report.log.clientFilter === null;
  if (all && w.length + report.log.duplicates !== report.log.records) {
    bad.push(`${w.length} replayed + ${report.log.duplicates} repeats for a log of ${report.log.records} records`);
  }
  return {
    name: "log coverage",
    status: bad.length ? "fail" : "pass",
    detail: bad.length
      ? list(bad)
      : all
        ? `all ${report.log.records} records of the log replayed or counted as repeats`
        : `${w.length} records of client ${report.log.clientFilter}, each once (the client's share of the log is the owner's claim)`,
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

function duplicateInputs(report: DawnEvidenceReport): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const q of report.queries) {
    if (q.kind !== "watermark") continue;
    const k = `${q.client}\0${q.inputSha256}`;
    if (seen.has(k)) out.push(q.id);
    seen.add(k);
  }
  return out;
}

const list = (xs: readonly string[]) =>
  `${xs.slice(0, 5).join("; ")}${xs.length > 5 ? `; and ${xs.length - 5} more` : ""}`;
