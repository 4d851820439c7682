import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  DAWN_CLAIM_NOTE,
  DAWN_EVIDENCE_SCHEMA,
  type DawnClientDecision,
  type DawnEvidenceQuery,
  type DawnEvidenceReport,
  type DawnResult,
  dawnOutcomes,
  decideDawn,
} from "../core/detect/dawn-evidence.js";
import { toHex } from "../core/digest/bytes.js";
import { fromModelInput } from "../core/input/model-io.js";
import { KeyStream } from "../core/keys/derive.js";
import { createRng, shuffleInPlace } from "../core/rng.js";
import { ProvmarkError } from "../errors.js";
import type { DawnLog, DawnRecord } from "../guard/dawn-log.js";
import { writeDirAtomic } from "../model/atomic-write.js";
import { VERSION } from "../version.js";
import { openAdapter } from "./adapters/open-adapter.js";
import type { QueryInput, SuspectProtocol, WireEncoding } from "./adapters/types.js";
import { renderDawnEvidenceHtml } from "./report/dawn-html.js";
import { clearRunDir } from "./run-dir.js";
import { BodyLog } from "./runner/body-log.js";
import { runQueries, runTuning } from "./runner/run-queries.js";

export interface DawnDetectRequest {
  /** The owner's watermark key seed: it draws the decoys and the query order (unpredictable to the suspect). */
  seed: Uint8Array;
  /** readDawnLog's result (all clients: `client` selects). */
  log: DawnLog;
  /** Test this client's records only; default every client, Bonferroni over them. */
  client?: string | undefined;
  suspect: {
    protocol: Exclude<SuspectProtocol, "url">;
    endpoint: string;
    modelName?: string | undefined;
    configPath?: string | undefined;
    encoding?: WireEncoding | undefined;
    headers?: Record<string, string>;
    responseConfig?: unknown;
  };
  runDir: string;
  keepRunDir?: boolean;
  /** Discard an unfinished run's answers first (only in a run directory provmark made). */
  fresh?: boolean;
  decoyRatio: number;
  /** Benign inputs (uint8 pixels of the log's input shape) and where they came from. */
  decoys: { from: string | null; inputs: Uint8Array[] };
  concurrency?: number;
  batchSize?: number;
  rps?: number | null;
  timeoutMs?: number;
  retries?: number;
  alpha: number;
  maxFailureFraction: number;
  /** Where to write report.json, report.html and bodies/ (must not exist). */
  reportDir: string;
  signal?: AbortSignal;
  onProgress?: (p: { answered: number; failed: number; total: number }) => void;
  onStage?: (stage: string) => void;
}

export interface DawnDetectResult {
  result: DawnResult;
  clients: DawnClientDecision[];
  report: DawnEvidenceReport;
  reportDir: string;
  runDir: string;
  complete: boolean;
  resumed: number;
}

interface Planned {
  id: string;
  pixels: Uint8Array;
  record: DawnRecord | null;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/**
 * DAWN detection: replay the logged inputs whose answers the guard altered, hidden among decoys,
 * and count how often the suspect gives the altered label. Records are deduplicated per client by
 * input hash (the guard's PRF gives one input one label, so a repeat is no new evidence). Query ids
 * are derived from the client and input hash, so a rerun with the same run directory resumes.
 */
export async function dawnDetect(r: DawnDetectRequest): Promise<DawnDetectResult> {
  const io = r.log.meta.modelIO;
  if (io.input.kind !== "image") {
    throw new ProvmarkError(
      "USAGE",
      "DAWN detection by queries supports image models; this log is for a vector model",
      {
        subject: "--dawn-log",
      },
    );
  }
  const input = io.input;
  const shape = [input.height, input.width, input.channels] as const;
  const chosen = r.client === undefined ? r.log.records : r.log.records.filter((x) => x.client === r.client);
  if (chosen.length === 0) {
    const known = [...new Set(r.log.records.map((x) => x.client))];
    throw new ProvmarkError(
      "USAGE",
      r.client === undefined
        ? "the DAWN log has no records"
        : `the DAWN log has no records of client ${JSON.stringify(r.client)}`,
      {
        subject: r.client === undefined ? "--dawn-log" : "--client",
        hints: known.length
          ? [`Clients in the log: ${known.slice(0, 10).join(", ")}${known.length > 10 ? ", …" : ""}`]
          : [],
      },
    );
  }
  // One record per client and PRF input: the guard's input hash (its robust hash) or, should two
  // hashes name the same image, the bytes sent, so no label is counted as two independent draws.
  const planned: Planned[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  for (const rec of chosen) {
    const pixels = fromModelInput(input, rec.input);
    const c = sha(Buffer.from(rec.client, "utf8")).slice(0, 12);
    const keys = [`${c}/h/${rec.inputSha256}`, `${c}/p/${sha(pixels)}`];
    if (keys.some((k) => seen.has(k))) {
      duplicates++;
      continue;
    }
    for (const k of keys) seen.add(k);
    planned.push({ id: `w-${c}-${rec.inputSha256.slice(0, 24)}`, pixels, record: rec });
  }
  const secret = toHex(new KeyStream(r.seed, "dawn-detect/plan").bytes(16));
  const rng = createRng(`${secret}\0${r.log.sha256}\0${r.client ?? ""}`, "dawn-detect/decoys");
  const decoyCount = r.decoys.inputs.length ? Math.round(r.decoyRatio * planned.length) : 0;
  for (let i = 0; i < decoyCount; i++) {
    const j = rng.int(r.decoys.inputs.length);
    planned.push({ id: `d-${i}-${j}`, pixels: r.decoys.inputs[j] as Uint8Array, record: null });
  }
  shuffleInPlace(planned, rng);

  if (r.fresh) await clearRunDir(r.runDir);
  const adapter = await openAdapter({
    protocol: r.suspect.protocol,
    endpoint: r.suspect.endpoint,
    modelName: r.suspect.modelName,
    configPath: r.suspect.configPath,
    headers: r.suspect.headers ?? {},
    classes: io.classes.count,
    classNames: io.classes.names,
    inputShape: shape,
    input,
    encoding: r.suspect.encoding,
    timeoutMs: r.timeoutMs ?? 30_000,
  });
  const startedAt = new Date().toISOString();
  const queries: QueryInput[] = planned.map((p) => ({ id: p.id, pixels: p.pixels, shape }));
  let run: Awaited<ReturnType<typeof runQueries>>;
  try {
    r.onStage?.(`querying ${adapter.target}`);
    run = await runQueries({
      adapter,
      queries,
      runDir: r.runDir,
      ...runTuning(r),
    });
  } finally {
    await adapter.close();
  }

  const evidenceQueries: DawnEvidenceQuery[] = planned.map((p) => {
    const e = run.results.get(p.id);
    const ex = e?.exchange;
    const rec = p.record;
    return {
      id: p.id,
      kind: rec ? "watermark" : "decoy",
      client: rec?.client ?? null,
      seq: rec?.seq ?? null,
      inputSha256: rec?.inputSha256 ?? null,
      pixelsSha256: sha(p.pixels),
      expected: rec?.servedLabel ?? null,
      nullProbability: rec ? 1 / (rec.classes - 1) : null,
      got: e?.result.ok ? e.result.label : null,
      failure: e ? (e.result.ok ? null : `${e.result.failure}: ${e.result.detail}`) : "not sent",
      requestSha256: ex?.requestSha256 ?? null,
      responseSha256: ex?.responseSha256 ?? null,
      status: ex?.status ?? null,
      startedAt: ex?.startedAt ?? null,
      batchPosition: e ? e.batch.index : null,
      batchSize: e ? e.batch.size : null,
      response: ex?.response ?? null,
    };
  });
  const { clients, result } = decideDawn(dawnOutcomes(evidenceQueries, io.classes.count), {
    alpha: r.alpha,
    maxFailureFraction: r.maxFailureFraction,
    complete: run.complete,
  });
  const report: DawnEvidenceReport = {
    schema: DAWN_EVIDENCE_SCHEMA,
    kind: "dawn",
    tool: `provmark ${VERSION}`,
    createdAt: new Date().toISOString(),
    run: { id: r.log.sha256.slice(0, 16), startedAt, finishedAt: new Date().toISOString(), complete: run.complete },
    log: {
      sha256: r.log.sha256,
      createdAt: r.log.meta.createdAt,
      keyCommitment: r.log.meta.keyCommitment,
      rate: r.log.meta.rate,
      modelIO: io,
      records: r.log.records.length,
      clientFilter: r.client ?? null,
      duplicates,
    },
    claim: DAWN_CLAIM_NOTE,
    suspect: {
      protocol: r.suspect.protocol,
      encoding: adapter.encoding ?? "tensor",
      target: adapter.target,
      modelName: r.suspect.modelName ?? null,
      responseConfig: r.suspect.responseConfig ?? null,
    },
    queries: evidenceQueries,
    clients,
    result,
    warnings: [...r.log.warnings],
    settings: { maxFailureFraction: r.maxFailureFraction, decoyRatio: r.decoyRatio },
    stats: {
      requests: run.stats.requests,
      retries: run.stats.retries,
      seconds: run.stats.seconds,
      decoys: decoyCount,
      failuresByKind: Object.fromEntries(Object.entries(run.stats.failuresByKind).filter(([, v]) => v > 0)),
    },
  };
  r.onStage?.(`writing the evidence report to ${r.reportDir}`);
  await writeDirAtomic(r.reportDir, async (tmp) => {
    await writeFile(join(tmp, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(join(tmp, "report.html"), renderDawnEvidenceHtml(report));
    await mkdir(join(tmp, "bodies"));
    const shas = new Set(evidenceQueries.flatMap((q) => [q.requestSha256, q.responseSha256]).filter((s) => s !== null));
    const bodies = await BodyLog.open(r.runDir, { readOnly: true });
    try {
      for (const s of shas) {
        const body = await bodies.read(s);
        if (body) await writeFile(join(tmp, "bodies", s), body);
      }
    } finally {
      await bodies.close();
    }
  });
  if (run.complete && !r.keepRunDir) await clearRunDir(r.runDir);
  return {
    result,
    clients,
    report,
    reportDir: r.reportDir,
    runDir: r.runDir,
    complete: run.complete,
    resumed: run.resumed,
  };
}
