import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type DetectDecision, decideDetection, type TriggerOutcome } from "../core/detect/detect-verdict.js";
import { EVIDENCE_SCHEMA, type EvidenceQuery, type EvidenceReport } from "../core/detect/evidence.js";
import type { PlannedQuery } from "../core/detect/plan.js";
import { toHex } from "../core/digest/bytes.js";
import { keyCommitment } from "../core/keys/derive.js";
import { type Certificate, certificateHash } from "../core/watermark/certificate.js";
import type { WatermarkKey } from "../core/watermark/params.js";
import { buildReveal } from "../core/watermark/reveal.js";
import { deriveTriggers, type Trigger } from "../core/watermark/triggers.js";
import { ProvmarkError } from "../errors.js";
import { writeDirAtomic } from "../model/atomic-write.js";
import { VERSION } from "../version.js";
import { openAdapter } from "./adapters/open-adapter.js";
import type { QueryInput, SuspectAdapter } from "./adapters/types.js";
import { renderEvidenceHtml } from "./report/html.js";
import { clearRunDir } from "./run-dir.js";
import { loadOrCreatePlan } from "./run-plan.js";
import { BodyLog } from "./runner/body-log.js";
import { runQueries } from "./runner/run-queries.js";

export interface DetectRequest {
  key: WatermarkKey;
  certificate: Certificate;
  suspect: {
    protocol: "tfserving" | "kserve" | "json" | "local";
    /** URL, or a model directory for "local". */
    endpoint: string;
    modelName?: string | undefined;
    configPath?: string | undefined;
    headers?: Record<string, string>;
    /** The generic JSON config's response section, kept in the report so answers can be re-read. */
    responseConfig?: unknown;
  };
  runDir: string;
  /** Keep the run directory after a complete run (a --run the user named); default: remove it. */
  keepRunDir?: boolean;
  fresh?: boolean;
  /** Triggers used by this run (a random subset). */
  subset: number;
  decoyRatio: number;
  /** Benign inputs (uint8 pixels, the certificate's input shape) and where they came from. */
  decoys: { from: string | null; inputs: Uint8Array[] };
  concurrency?: number;
  /** Queries per request (default: the runner's, at most what the protocol allows). */
  batchSize?: number;
  rps?: number | null;
  timeoutMs?: number;
  retries?: number;
  alpha: number;
  maxFailureFraction: number;
  /** Local models known not to be derived from the marked one (empirical null). */
  references?: readonly string[];
  onChain?: EvidenceReport["onChain"];
  /** Why the chain of `onChain` is a dev chain (labelled in the HTML report), as found on the chain. */
  devChain?: string | null;
  /** Where to write report.json, report.html and bodies/ (must not exist). */
  reportDir: string;
  signal?: AbortSignal;
  onProgress?: (p: { answered: number; failed: number; total: number }) => void;
  onStage?: (stage: string) => void;
}

export interface DetectResult {
  decision: DetectDecision;
  reportDir: string;
  runDir: string;
  resumed: number;
  complete: boolean;
  report: EvidenceReport;
}

/**
 * Theft detection: query the suspect with a random subset of the key's triggers hidden among decoys
 * (journaled, resumable), decide with the exact test, and write an evidence report anyone can re-check.
 */
export async function detect(r: DetectRequest): Promise<DetectResult> {
  const cert = r.certificate;
  if (toHex(keyCommitment(r.key.seed)) !== cert.keyCommitment) {
    throw new ProvmarkError("USAGE", "the key does not belong to this certificate (key commitments differ)", {
      subject: "--key",
      hints: ["Use the key the model was watermarked with, and that release's certificate."],
    });
  }
  const triggers = deriveTriggers(r.key);
  const { file, plan, resumed } = await loadOrCreatePlan(
    r.runDir,
    {
      target: r.suspect.endpoint,
      protocol: r.suspect.protocol,
      subset: Math.min(r.subset, triggers.length),
      decoyRatio: r.decoyRatio,
      decoysFrom: r.decoys.from,
      decoyCount: r.decoys.inputs.length,
      triggerCount: triggers.length,
    },
    !!r.fresh,
  );
  const shape = cert.input.shape;
  const queries: QueryInput[] = plan.queries.map((q) => ({
    id: q.id,
    pixels: q.kind === "trigger" ? (triggers[q.trigger] as Trigger).input : (r.decoys.inputs[q.decoy] as Uint8Array),
    shape,
  }));
  const adapter = await openAdapter({
    protocol: r.suspect.protocol,
    endpoint: r.suspect.endpoint,
    modelName: r.suspect.modelName,
    configPath: r.suspect.configPath,
    headers: r.suspect.headers ?? {},
    classes: cert.input.classes,
    inputShape: shape,
    timeoutMs: r.timeoutMs ?? 30_000,
  });
  let run: Awaited<ReturnType<typeof runQueries>>;
  try {
    r.onStage?.(resumed ? `resuming the run in ${r.runDir}` : `querying ${adapter.target}`);
    run = await runQueries({
      adapter,
      queries,
      runDir: r.runDir,
      ...(r.concurrency ? { concurrency: r.concurrency } : {}),
      ...(r.batchSize ? { batchSize: r.batchSize } : {}),
      rps: r.rps ?? null,
      ...(r.timeoutMs ? { timeoutMs: r.timeoutMs } : {}),
      ...(r.retries !== undefined ? { retries: r.retries } : {}),
      ...(r.signal ? { signal: r.signal } : {}),
      ...(r.onProgress ? { onProgress: r.onProgress } : {}),
    });
  } finally {
    await adapter.close();
  }

  const outcomes: TriggerOutcome[] = [];
  const nulls = cert.triggerSet.nullMatchProbability;
  for (const q of plan.queries) {
    if (q.kind !== "trigger") continue;
    const t = triggers[q.trigger] as Trigger;
    const got = run.results.get(q.id)?.result;
    outcomes.push({
      index: t.index,
      expected: t.label,
      got: got?.ok ? got.label : null,
      nullProbability: nulls[t.family],
    });
  }
  const referenceMatches = await referenceCounts(
    r,
    plan.triggers.map((i) => triggers[i] as Trigger),
  );
  const decision = decideDetection(outcomes, {
    alpha: r.alpha,
    maxFailureFraction: r.maxFailureFraction,
    ...(referenceMatches.length ? { referenceMatches } : {}),
  });

  const evidenceQueries = toEvidenceQueries(plan.queries, run.results, triggers);
  const report: EvidenceReport = {
    schema: EVIDENCE_SCHEMA,
    tool: `provmark ${VERSION}`,
    createdAt: new Date().toISOString(),
    run: {
      id: file.runSeed.slice(0, 16),
      runSeed: file.runSeed,
      startedAt: file.createdAt,
      finishedAt: new Date().toISOString(),
      complete: run.complete,
    },
    suspect: {
      protocol: r.suspect.protocol,
      target: adapter.target,
      modelName: r.suspect.modelName ?? null,
      responseConfig: r.suspect.responseConfig ?? null,
    },
    certificate: { hash: certificateHash(cert), document: cert },
    onChain: r.onChain ?? null,
    reveal: buildReveal(cert, triggers, plan.triggers),
    queries: evidenceQueries,
    result: decision,
    settings: { maxFailureFraction: r.maxFailureFraction, decoyRatio: r.decoyRatio, subset: plan.triggers.length },
    stats: {
      requests: run.stats.requests,
      retries: run.stats.retries,
      seconds: run.stats.seconds,
      decoys: plan.queries.length - plan.triggers.length,
      failuresByKind: Object.fromEntries(Object.entries(run.stats.failuresByKind).filter(([, v]) => v > 0)),
    },
  };
  r.onStage?.(`writing the evidence report to ${r.reportDir}`);
  await writeDirAtomic(r.reportDir, async (tmp) => {
    await writeFile(join(tmp, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(join(tmp, "report.html"), renderEvidenceHtml(report, { devChain: r.devChain ?? null }));
    await mkdir(join(tmp, "bodies"));
    const shas = new Set(evidenceQueries.flatMap((q) => [q.requestSha256, q.responseSha256]).filter((s) => s !== null));
    const log = await BodyLog.open(r.runDir, { readOnly: true });
    try {
      for (const sha of shas) {
        const body = await log.read(sha);
        if (body) await writeFile(join(tmp, "bodies", sha), body);
      }
    } finally {
      await log.close();
    }
  });
  // A finished run lives on in its report (bodies included); the next detect draws a fresh subset.
  // An interrupted one stays, so rerunning the command resumes it.
  if (run.complete && !r.keepRunDir) await clearRunDir(r.runDir);
  return { decision, reportDir: r.reportDir, runDir: r.runDir, resumed: run.resumed, complete: run.complete, report };
}

/** Journal results as report rows; a query's batch position comes from the queries that shared its request. */
function toEvidenceQueries(
  planned: readonly PlannedQuery[],
  results: Awaited<ReturnType<typeof runQueries>>["results"],
  triggers: readonly Trigger[],
): EvidenceQuery[] {
  const batches = new Map<string, string[]>();
  for (const q of planned) {
    const ex = results.get(q.id)?.exchange;
    if (!ex) continue;
    const k = `${ex.requestSha256}/${ex.startedAt}`;
    batches.set(k, [...(batches.get(k) ?? []), q.id]);
  }
  return planned.map((q) => {
    const entry = results.get(q.id);
    const ex = entry?.exchange;
    const members = ex ? (batches.get(`${ex.requestSha256}/${ex.startedAt}`) ?? []) : [];
    const t = q.kind === "trigger" ? (triggers[q.trigger] as Trigger) : null;
    return {
      id: q.id,
      kind: q.kind,
      trigger: t?.index ?? null,
      expected: t?.label ?? null,
      got: entry?.result.ok ? entry.result.label : null,
      failure: entry ? (entry.result.ok ? null : `${entry.result.failure}: ${entry.result.detail}`) : "not sent",
      requestSha256: ex?.requestSha256 ?? null,
      responseSha256: ex?.responseSha256 ?? null,
      status: ex?.status ?? null,
      startedAt: ex?.startedAt ?? null,
      batchPosition: ex ? members.indexOf(q.id) : null,
      batchSize: ex ? members.length : null,
      response: ex?.response ?? null,
    };
  });
}

/** Matches of each reference model on the run's triggers (the empirical null). */
async function referenceCounts(r: DetectRequest, used: readonly Trigger[]): Promise<number[]> {
  const counts: number[] = [];
  for (const dir of r.references ?? []) {
    const ref: SuspectAdapter = await openAdapter({
      protocol: "local",
      endpoint: dir,
      headers: {},
      classes: r.certificate.input.classes,
      inputShape: r.certificate.input.shape,
      timeoutMs: 60_000,
    });
    try {
      const out = await ref.send(
        used.map((t, i) => ({ id: `r${i}`, pixels: t.input, shape: r.certificate.input.shape })),
        AbortSignal.timeout(300_000),
      );
      counts.push(out.items.filter((it, i) => it.ok && it.label === (used[i] as Trigger).label).length);
    } finally {
      await ref.close();
    }
  }
  return counts;
}
