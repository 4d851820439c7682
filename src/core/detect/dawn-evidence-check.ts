import type { DawnEvidenceReport, DawnResult } from "./dawn-evidence.js";
import { dawnOutcomes, decideDawn } from "./dawn-evidence.js";

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

/** What the pure re-check is handed: stored bodies, hashing, and the protocol readers. */
export interface DawnRecheckDeps {
  /** A stored body by its name (its claimed SHA-256), or null when missing. */
  body(sha256: string): Uint8Array | null;
  sha256(bytes: Uint8Array): string;
  /** The labels of a response body as received (its Content-Encoding undone first); null per failed item. */
  parseResponse(body: Uint8Array, encoding: string | null, size: number): (number | null)[];
  /** SHA-256 of the byte image at `position` of a request body (null if none); null: not re-readable. */
  sentPixelsSha: ((body: Uint8Array, requestSha256: string, position: number) => string | null) | null;
}

/**
 * Re-checks a DAWN evidence report without the key: every request and response body against its
 * SHA-256, every answer (and claimed failure) re-read from its response, the match counts and each
 * client's p-value recomputed at the verifier's α. The altered labels themselves are the owner's
 * claim (bound by the log's hash): they cannot be re-derived without the key, and the report says so.
 */
export function checkDawnEvidence(
  report: DawnEvidenceReport,
  deps: DawnRecheckDeps,
  policy: { alpha: number; maxFailureFraction: number },
): DawnRecheck {
  const checks: DawnCheck[] = [];
  const { body, sha256 } = deps;
  const io = report.log.modelIO;
  const badBodies: string[] = [];
  const badAnswers: string[] = [];
  const reread = new Map<string, (number | null)[]>();
  const answers = report.queries.map((q) => {
    if (q.requestSha256 !== null) {
      const b = body(q.requestSha256);
      if (b === null || sha256(b) !== q.requestSha256) badBodies.push(`${q.id} (request)`);
    }
    if (q.responseSha256 === null || q.batchSize === null || q.batchPosition === null) {
      if (q.got !== null) badAnswers.push(`${q.id}: an answer without a response`);
      return null;
    }
    let labels = reread.get(`${q.responseSha256}/${q.batchSize}`);
    if (labels === undefined) {
      const b = body(q.responseSha256);
      if (b === null || sha256(b) !== q.responseSha256) {
        if (q.response?.withheld === undefined) badBodies.push(`${q.id} (response)`);
        labels = Array.from({ length: q.batchSize }, () => null);
      } else {
        labels = deps.parseResponse(b, q.response?.encoding ?? null, q.batchSize);
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
  checks.push(sentInputs(report, deps));
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
 * Each watermark query's image found in its request body (deps.sentPixelsSha: the bytes a TF Serving
 * or KServe tensor goes back to, a local run's input hash, a decoded PNG), against the report's
 * pixelsSha256. Requests the adapter side cannot re-read (JPEG, generic JSON) give a warning.
 */
function sentInputs(report: DawnEvidenceReport, deps: DawnRecheckDeps): DawnCheck {
  const { protocol, encoding } = report.suspect;
  const read = deps.sentPixelsSha;
  if (read === null) {
    return {
      name: "sent inputs",
      status: "warn",
      detail: `${protocol} ${encoding} requests are not re-read: the inputs sent rest on the request hashes`,
    };
  }
  const bad: string[] = [];
  for (const q of report.queries) {
    if (q.kind !== "watermark" || q.requestSha256 === null || q.batchPosition === null) continue;
    const b = deps.body(q.requestSha256);
    if ((b === null ? null : read(b, q.requestSha256, q.batchPosition)) !== q.pixelsSha256) bad.push(q.id);
  }
  return {
    name: "sent inputs",
    status: bad.length ? "fail" : "pass",
    detail: bad.length
      ? `requests that do not hold the input the report names: ${list(bad)}`
      : `every replayed input found in its request${encoding === "png" ? " (PNG decoded)" : ""}`,
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

function duplicateInputs(report: DawnEvidenceReport): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const q of report.queries) {
    if (q.kind !== "watermark") continue;
    const keys = [`${q.client}\0h\0${q.inputSha256}`, `${q.client}\0p\0${q.pixelsSha256}`];
    if (keys.some((k) => seen.has(k))) out.push(q.id);
    for (const k of keys) seen.add(k);
  }
  return out;
}

const list = (xs: readonly string[]) =>
  `${xs.slice(0, 5).join("; ")}${xs.length > 5 ? `; and ${xs.length - 5} more` : ""}`;
