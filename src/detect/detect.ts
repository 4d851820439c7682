import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type DetectDecision, decideDetection, type TriggerOutcome } from "../core/detect/detect-verdict.js";
import {
  EVIDENCE_SCHEMA,
  type EvidenceQuery,
  type EvidenceReport,
  type WhiteBoxResult,
} from "../core/detect/evidence.js";
import type { PlannedQuery } from "../core/detect/plan.js";
import { planAnchorLabel, planAnchorRoot, suspectHash } from "../core/detect/plan-anchor.js";
import { combineWhiteBox } from "../core/detect/white-box-verdict.js";
import { toHex } from "../core/digest/bytes.js";
import { keyCommitment } from "../core/keys/derive.js";
import { vrfKeyPair, vrfOutput, vrfProve } from "../core/keys/vrf.js";
import {
  type Certificate,
  certificateClasses,
  certificateHash,
  certificateIO,
  triggerSetSpecOfCertificate,
} from "../core/watermark/certificate.js";
import { imageShape, type WatermarkKey } from "../core/watermark/params.js";
import { buildReveal } from "../core/watermark/reveal.js";
import { buildRevealV2 } from "../core/watermark/reveal-v2.js";
import { blockTriggers, orderIndexOf, runOrder, runOrderMessage } from "../core/watermark/trigger-derivation.js";
import { deriveTriggers, type Trigger, triggerPixels } from "../core/watermark/triggers.js";
import { ProvmarkError } from "../errors.js";
import { writeDirAtomic } from "../model/atomic-write.js";
import { VERSION } from "../version.js";
import { LocalModelAdapter } from "./adapters/local.js";
import { openAdapter } from "./adapters/open-adapter.js";
import type { QueryInput, SuspectAdapter, SuspectProtocol, WireEncoding } from "./adapters/types.js";
import { renderEvidenceHtml } from "./report/html.js";
import { clearRunDir, SUSPECT_MODEL_DIR } from "./run-dir.js";
import { loadOrCreatePlan, type RunPlan, recordPlanAnchor } from "./run-plan.js";
import { BodyLog } from "./runner/body-log.js";
import { runQueries, runTuning } from "./runner/run-queries.js";
import { copySuspectModel, type FetchedSuspect, fetchSuspect } from "./url/fetch-suspect.js";
import { urlTarget } from "./url/url-suspect.js";

export interface DetectRequest {
  key: WatermarkKey;
  certificate: Certificate;
  suspect: {
    protocol: SuspectProtocol;
    /** URL, a model directory for "local", or the model.json URL for "url". */
    endpoint: string;
    modelName?: string | undefined;
    configPath?: string | undefined;
    /** `tensor` (default), `png` or `jpeg` (lossy: a warning goes into the report); raw defaults to png. */
    encoding?: WireEncoding | undefined;
    headers?: Record<string, string>;
    /** The generic JSON config's response section, kept in the report so answers can be re-read. */
    responseConfig?: unknown;
    /** The generic JSON config's input slot and scaling, so the verifier finds triggers in requests. */
    request?: EvidenceReport["suspect"]["request"];
  };
  /** "url": cap on the fetched model's files together (default 512 MiB). */
  maxDownloadBytes?: number;
  runDir: string;
  /** Keep the run directory after a complete run (a --run the user named); default: remove it. */
  keepRunDir?: boolean;
  fresh?: boolean;
  /** v1 certificates: triggers used by this run (a random subset). v2 fixes them (the next run block). */
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
  /**
   * `--anchor`: puts the plan on chain before the first query (a one-record batch anchor whose label
   * names the certificate and suspect), so the run can be neither backdated nor hidden.
   */
  anchorPlan?: (a: { root: string; label: string }) => Promise<{ chainId: string; registry: string; txHash: string }>;
  /** Why the chain of `onChain` is a dev chain (labelled in the HTML report), as found on the chain. */
  devChain?: string | null;
  /** Where to write report.json, report.html and bodies/ (must not exist). */
  reportDir: string;
  signal?: AbortSignal;
  onProgress?: (p: { answered: number; failed: number; total: number }) => void;
  onStage?: (stage: string) => void;
}

/** Why a JPEG run's verdict leans towards "not detected": the one warning `--encoding jpeg` gives. */
export const JPEG_WARNING =
  "JPEG is lossy: the suspect sees other pixels than the triggers', so matches may drop (a marked model can look " +
  "clean) and the verifier can compare the sent images only within a tolerance. Prefer --encoding png.";

export interface DetectResult {
  decision: DetectDecision;
  reportDir: string;
  runDir: string;
  resumed: number;
  complete: boolean;
  report: EvidenceReport;
  /** "url": the weight-mark test on the fetched model, and the verdict of both tests. */
  whiteBox: WhiteBoxResult | null;
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
  const io = certificateIO(cert);
  if (io.input.kind !== "image") {
    throw new ProvmarkError(
      "USAGE",
      "detection by queries supports image models; this certificate is for a vector model",
      {
        subject: "--cert",
        hints: ["Check a tabular model with `provmark verify --model <dir>` (white box)."],
      },
    );
  }
  const triggers = deriveTriggers(r.key);
  const certHash = certificateHash(cert);
  const order = cert.schema === "provmark/certificate/v2" ? runOrderFor(r.key, cert) : null;
  const shape = imageShape(io);
  // A fetched model is downloaded into the run directory, so only once the plan is committed.
  let adapter: SuspectAdapter | undefined =
    r.suspect.protocol === "url"
      ? undefined
      : await openAdapter({
          protocol: r.suspect.protocol,
          endpoint: r.suspect.endpoint,
          modelName: r.suspect.modelName,
          configPath: r.suspect.configPath,
          headers: r.suspect.headers ?? {},
          classes: io.classes.count,
          classNames: io.classes.names,
          inputShape: shape,
          input: io.input,
          encoding: r.suspect.encoding,
          timeoutMs: r.timeoutMs ?? 30_000,
        });
  const encoding = adapter?.encoding ?? "tensor";
  const warnings = encoding === "jpeg" ? [JPEG_WARNING] : [];
  const target = adapter?.target ?? urlTarget(r.suspect.endpoint);
  // The plan names the suspect as reports show it (the adapter's target: no credentials, no query).
  const runPlan = await loadOrCreatePlan(
    r.runDir,
    {
      certificateHash: certHash,
      suspect: { protocol: r.suspect.protocol, target, modelName: r.suspect.modelName ?? null },
      subset: Math.min(r.subset, triggers.length),
      decoyRatio: r.decoyRatio,
      decoysFrom: r.decoys.from,
      decoyCount: r.decoys.inputs.length,
      triggerCount: triggers.length,
      ...(order ? { blockTriggers: order.blockTriggers } : {}),
    },
    !!r.fresh,
  ).catch(async (e: unknown) => {
    await adapter?.close();
    throw e;
  });
  const { plan, resumed } = runPlan;
  if (r.anchorPlan && runPlan.anchor === null) {
    r.onStage?.("anchoring the run plan on chain before the first query");
    const root = planAnchorRoot(runPlan.planHash);
    const label = planAnchorLabel(certHash, suspectHash(runPlan.doc.suspect), runPlan.planHash);
    try {
      const tx = await r.anchorPlan({ root, label });
      await recordPlanAnchor(r.runDir, runPlan, { ...tx, root, label });
    } catch (e) {
      await adapter?.close();
      throw e;
    }
  }
  let fetched: FetchedSuspect | null = null;
  if (adapter === undefined) {
    fetched = await fetchSuspect(r, target, cert);
    adapter = await LocalModelAdapter.open({
      path: fetched.dir,
      protocol: "url",
      target,
      classes: io.classes.count,
      inputShape: shape,
      input: io.input,
    });
  }
  const suspect = adapter;
  const queries: QueryInput[] = plan.queries.map((q) => ({
    id: q.id,
    pixels:
      q.kind === "trigger" ? triggerPixels(triggers[q.trigger] as Trigger) : (r.decoys.inputs[q.decoy] as Uint8Array),
    shape,
  }));
  let run: Awaited<ReturnType<typeof runQueries>>;
  try {
    r.onStage?.(resumed ? `resuming the run in ${r.runDir}` : `querying ${target}`);
    run = await runQueries({
      adapter: suspect,
      queries,
      runDir: r.runDir,
      ...runTuning(r),
    });
  } finally {
    await suspect.close();
  }

  const outcomes: TriggerOutcome[] = [];
  for (const q of plan.queries) {
    if (q.kind !== "trigger") continue;
    const t = triggers[q.trigger] as Trigger;
    const got = run.results.get(q.id)?.result;
    outcomes.push({
      index: t.index,
      expected: t.label,
      got: got?.ok ? got.label : null,
      nullProbability: t.nullProbability,
    });
  }
  const referenceMatches = await referenceCounts(
    r,
    plan.triggers.map((i) => triggers[i] as Trigger),
  );
  const multiplicity = Math.max(runPlan.committed.length, (runPlan.doc.block ?? 0) + 1);
  const decision = decideDetection(outcomes, {
    alpha: r.alpha,
    maxFailureFraction: r.maxFailureFraction,
    multiplicity,
    complete: run.complete,
    ...(referenceMatches.length ? { referenceMatches } : {}),
  });

  const whiteBox: WhiteBoxResult | null = fetched
    ? {
        weightMark: fetched.weightMark,
        combined: combineWhiteBox(decision, fetched.weightMark, { alpha: r.alpha, complete: run.complete }),
      }
    : null;
  const evidenceQueries = toEvidenceQueries(plan.queries, run.results, triggers);
  const report: EvidenceReport = {
    schema: EVIDENCE_SCHEMA,
    tool: `provmark ${VERSION}`,
    createdAt: new Date().toISOString(),
    run: {
      id: runPlan.planHash.slice(0, 16),
      startedAt: runPlan.doc.createdAt,
      finishedAt: new Date().toISOString(),
      complete: run.complete,
    },
    plan: runPlan.doc,
    planHash: runPlan.planHash,
    committedPlans: runPlan.committed,
    planAnchor: runPlan.anchor,
    suspect: {
      protocol: r.suspect.protocol,
      target,
      modelName: r.suspect.modelName ?? null,
      encoding,
      responseConfig: r.suspect.responseConfig ?? null,
      request: r.suspect.request ?? null,
    },
    certificate: { hash: certHash, document: cert },
    onChain: r.onChain ?? null,
    reveal: revealFor(r.key, cert, triggers, runPlan, fetched?.proofs ?? null),
    download: fetched?.download ?? null,
    whiteBox,
    queries: evidenceQueries,
    result: decision,
    warnings,
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
    if (fetched) await copySuspectModel(fetched.dir, join(tmp, SUSPECT_MODEL_DIR));
  });
  // A finished run lives on in its report (bodies included) and in the plan log, which stays so the
  // next run takes the next block and is counted; an interrupted one stays, so rerunning resumes it.
  if (run.complete && !r.keepRunDir) await clearRunDir(r.runDir);
  return {
    decision,
    reportDir: r.reportDir,
    runDir: r.runDir,
    resumed: run.resumed,
    complete: run.complete,
    report,
    whiteBox,
  };
}

/** Journal results as report rows, each with its exchange and its position in that request. */
function toEvidenceQueries(
  planned: readonly PlannedQuery[],
  results: Awaited<ReturnType<typeof runQueries>>["results"],
  triggers: readonly Trigger[],
): EvidenceQuery[] {
  return planned.map((q) => {
    const entry = results.get(q.id);
    const ex = entry?.exchange;
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
      // As journaled when the batch went out: a resumed run re-sends failures in new batches.
      batchPosition: entry ? entry.batch.index : null,
      batchSize: entry ? entry.batch.size : null,
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
      classes: certificateClasses(r.certificate),
      inputShape: imageShape(certificateIO(r.certificate)),
      input: certificateIO(r.certificate).input as Extract<
        ReturnType<typeof certificateIO>["input"],
        { kind: "image" }
      >,
      timeoutMs: 60_000,
    });
    try {
      const shape = imageShape(certificateIO(r.certificate));
      const out = await ref.send(
        used.map((t, i) => ({ id: `r${i}`, pixels: triggerPixels(t), shape })),
        AbortSignal.timeout(300_000),
      );
      counts.push(out.items.filter((it, i) => it.ok && it.label === (used[i] as Trigger).label).length);
    } finally {
      await ref.close();
    }
  }
  return counts;
}

/** v2: the key's run orders, proved on demand; block b's triggers come from order ⌊b / B⌋. */
function runOrderFor(key: WatermarkKey, cert: Extract<Certificate, { schema: "provmark/certificate/v2" }>) {
  const spec = triggerSetSpecOfCertificate(cert);
  const { secretKey } = vrfKeyPair(key.seed);
  const orders = new Map<number, number[]>();
  const orderAt = (k: number) => {
    let o = orders.get(k);
    if (!o) {
      o = runOrder(spec, vrfOutput(vrfProve(secretKey, runOrderMessage(spec, k))));
      orders.set(k, o);
    }
    return o;
  };
  return { blockTriggers: (block: number) => blockTriggers(spec, orderAt(orderIndexOf(spec, block)), block), spec };
}

/**
 * The reveal for a run's triggers: VRF proofs (v2), or Merkle proofs (v1). A v2 white-box run also
 * reveals the weight mark's two proofs, so a verifier recomputes its bits from the fetched files.
 */
function revealFor(
  key: WatermarkKey,
  cert: Certificate,
  triggers: readonly Trigger[],
  run: RunPlan,
  weightMark: { projection: Uint8Array; message: Uint8Array } | null,
) {
  if (cert.schema === "provmark/certificate/v1") return buildReveal(cert, triggers, run.plan.triggers);
  const spec = triggerSetSpecOfCertificate(cert);
  return buildRevealV2(key, cert, triggers, run.plan.triggers, [orderIndexOf(spec, run.doc.block ?? 0)], weightMark);
}
