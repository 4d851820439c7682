import {
  type BatchOutcome,
  type Exchange,
  FAILURE_KINDS,
  type FailureKind,
  type ItemResult,
  type QueryInput,
  type SuspectAdapter,
} from "../adapters/types.js";
import { type JournalLine, openRunJournal } from "./journal.js";
import { Pacer, retryDelayMs, type Sleep, wait } from "./pacing.js";

export interface RunProgress {
  /** Queries with an ok answer (earlier runs included). */
  answered: number;
  /** Queries that failed in this run (after retries). */
  failed: number;
  total: number;
  /** Queries in requests under way (or waiting to retry). */
  inFlight: number;
}

export interface RunOptions {
  adapter: SuspectAdapter;
  /** In the order to send them (the caller shuffled triggers among decoys); ids must be unique. */
  queries: readonly QueryInput[];
  /** The journal lives here (created if missing); rerunning with the same directory resumes. */
  runDir: string;
  /** Max requests in flight; default 4. */
  concurrency?: number;
  /** Max requests started per second (each attempt counts); default null (no limit). */
  rps?: number | null;
  /** Per request (each attempt); default 30000. */
  timeoutMs?: number;
  /** Extra attempts after a retryable fault; default 4. */
  retries?: number;
  /** Queries per request; default min(adapter.maxBatch, 16), never above adapter.maxBatch. */
  batchSize?: number;
  /**
   * Ctrl-C: start no new request or retry; requests under way finish (within their timeout) and are
   * journaled; then resolve with partial results (complete=false).
   */
  signal?: AbortSignal;
  /** After each journaled batch (and once at the start). */
  onProgress?: (p: RunProgress) => void;
  now?: () => number;
  sleep?: Sleep;
  /** Jitter source for backoff; default Math.random. */
  random?: () => number;
}

/** The tuning options of a run, as a detection request carries them. */
export type RunTuning = Pick<
  RunOptions,
  "concurrency" | "batchSize" | "rps" | "timeoutMs" | "retries" | "signal" | "onProgress"
>;

/** A request's tuning as runQueries takes it: absent (or 0 for the counts) means the runner's default. */
export function runTuning(r: { [K in keyof RunTuning]?: RunTuning[K] | undefined }): RunTuning {
  return {
    ...(r.concurrency ? { concurrency: r.concurrency } : {}),
    ...(r.batchSize ? { batchSize: r.batchSize } : {}),
    rps: r.rps ?? null,
    ...(r.timeoutMs ? { timeoutMs: r.timeoutMs } : {}),
    ...(r.retries !== undefined ? { retries: r.retries } : {}),
    ...(r.signal ? { signal: r.signal } : {}),
    ...(r.onProgress ? { onProgress: r.onProgress } : {}),
  };
}

export interface RunResult {
  /** Ok answers of earlier runs, and every query this run finished (ok or failed). */
  /** Each query's final result, its exchange and its position in that exchange's batch. */
  results: Map<string, { result: ItemResult; exchange: Exchange; batch: { index: number; size: number } }>;
  /** True when every query has a result (not cancelled). */
  complete: boolean;
  /** Queries answered (ok) before this run. */
  resumed: number;
  stats: {
    /** Requests sent (attempts, retries included). */
    requests: number;
    retries: number;
    /** Queries that failed in this run, by kind. */
    failuresByKind: Record<FailureKind, number>;
    seconds: number;
  };
}

export const RUN_DEFAULTS = { concurrency: 4, timeoutMs: 30_000, retries: 4, batchSize: 16 } as const;

/**
 * Sends every query not yet answered to the suspect, in order and in batches, with bounded
 * concurrency, optional rate limiting, timeouts and retries; journals every result durably before
 * counting it. An id is *answered* once an ok result for it is in the journal: a rerun with the same
 * `runDir` skips answered ids and sends the rest again (failed ones included). Endpoint faults are
 * counted as failures by kind, never thrown; only bad options, journal I/O errors and adapter bugs
 * reject.
 *
 * @example
 * const adapter = await openAdapter({ protocol: "tfserving", endpoint, modelName: "mnist", headers, classes: 10,
 *   inputShape: [28, 28, 1], timeoutMs: 30_000 });
 * const run = await runQueries({ adapter, queries, runDir: "runs/suspect-1", signal: ctrlC.signal });
 * const ok = [...run.results.values()].filter((r) => r.result.ok).length;
 */
export async function runQueries(o: RunOptions): Promise<RunResult> {
  const { adapter, queries } = o;
  const concurrency = o.concurrency ?? RUN_DEFAULTS.concurrency;
  const retries = o.retries ?? RUN_DEFAULTS.retries;
  const timeoutMs = o.timeoutMs ?? RUN_DEFAULTS.timeoutMs;
  const batchSize = Math.min(adapter.maxBatch, o.batchSize ?? RUN_DEFAULTS.batchSize);
  const rps = o.rps ?? null;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new RangeError(`concurrency must be >= 1, got ${concurrency}`);
  if (!Number.isInteger(retries) || retries < 0) throw new RangeError(`retries must be >= 0, got ${retries}`);
  if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${timeoutMs}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be >= 1, got ${batchSize}`);
  if (rps !== null && !(rps > 0)) throw new RangeError(`rps must be > 0, got ${rps}`);
  const seen = new Set<string>();
  for (const q of queries) {
    if (typeof q.id !== "string" || q.id === "") throw new RangeError("every query needs a non-empty id");
    if (seen.has(q.id)) throw new RangeError(`query id ${q.id} appears twice`);
    seen.add(q.id);
  }
  const now = o.now ?? Date.now;
  const started = now();
  const failuresByKind = Object.fromEntries(FAILURE_KINDS.map((k) => [k, 0])) as Record<FailureKind, number>;
  const stats = { requests: 0, retries: 0, failuresByKind, seconds: 0 };

  const { writer, previous } = await openRunJournal(o.runDir, {
    protocol: adapter.protocol,
    target: adapter.target,
    ...(adapter.encoding === undefined || adapter.encoding === "tensor" ? {} : { encoding: adapter.encoding }),
  });
  const results: RunResult["results"] = new Map();
  for (const q of queries) {
    const p = previous.get(q.id);
    if (p?.result.ok) results.set(q.id, { result: p.result, exchange: p.exchange, batch: p.batch });
  }
  previous.clear();
  const resumed = results.size;
  const pending = queries.filter((q) => !results.has(q.id));
  const batches: QueryInput[][] = [];
  for (let i = 0; i < pending.length; i += batchSize) batches.push(pending.slice(i, i + batchSize));

  const stop = new AbortController();
  const onUserAbort = () => stop.abort(new DOMException("the run was cancelled", "AbortError"));
  if (o.signal?.aborted) onUserAbort();
  o.signal?.addEventListener("abort", onUserAbort, { once: true });
  const pacer = new Pacer(rps, now, o.sleep);
  const progress = { answered: resumed, failed: 0, total: queries.length, inFlight: 0 };
  const report = () => o.onProgress?.({ ...progress });
  let fatal: { error: unknown } | undefined;
  let finished = 0;

  /** One batch to its final outcome; undefined when the run stopped first (nothing to journal). */
  const attempt = async (batch: readonly QueryInput[]): Promise<BatchOutcome | undefined> => {
    for (let n = 0; ; n++) {
      if (!(await pacer.take(stop.signal))) return undefined;
      const ctrl = new AbortController();
      const timer = setTimeout(
        () => ctrl.abort(new DOMException(`no answer within ${timeoutMs} ms`, "TimeoutError")),
        timeoutMs,
      );
      stats.requests++;
      let outcome: BatchOutcome;
      try {
        // A request under way when the run stops is let finish (within its timeout) and journaled.
        outcome = await adapter.send(batch, ctrl.signal);
      } finally {
        clearTimeout(timer);
      }
      if (outcome.items.length !== batch.length) {
        throw new Error(
          `${adapter.protocol} adapter returned ${outcome.items.length} results for ${batch.length} queries`,
        );
      }
      if (!outcome.retryable || n >= retries) return outcome;
      if (stop.signal.aborted) return undefined;
      stats.retries++;
      if (!(await wait(retryDelayMs(n, outcome.retryAfterMs, o.random), stop.signal, o.sleep))) return undefined;
    }
  };

  const record = async (batch: readonly QueryInput[], outcome: BatchOutcome) => {
    const lines: JournalLine[] = batch.map((q, index) => ({
      id: q.id,
      result: outcome.items[index] as ItemResult,
      exchange: outcome.exchange,
      batch: { index, size: batch.length },
    }));
    const bodies = [{ sha256: outcome.exchange.requestSha256, bytes: outcome.requestBody }];
    if (outcome.responseBody !== null && outcome.exchange.responseSha256 !== null) {
      bodies.push({ sha256: outcome.exchange.responseSha256, bytes: outcome.responseBody });
    }
    await writer.append(lines, bodies);
    for (const line of lines) {
      results.set(line.id, { result: line.result, exchange: line.exchange, batch: line.batch });
      if (line.result.ok) progress.answered++;
      else {
        progress.failed++;
        failuresByKind[line.result.failure]++;
      }
    }
  };

  // A worker hands its answer to the journal (group commit) and sends its next request at once, so
  // fsync latency overlaps the network; at most one unjournaled answer per worker waits, which
  // bounds what a kill -9 can make a resumed run send again.
  let next = 0;
  const worker = async () => {
    let journaling: Promise<void> = Promise.resolve();
    while (!stop.signal.aborted && next < batches.length) {
      const batch = batches[next++] as QueryInput[];
      progress.inFlight += batch.length;
      let outcome: BatchOutcome | undefined;
      try {
        outcome = await attempt(batch);
      } finally {
        if (outcome === undefined) progress.inFlight -= batch.length;
      }
      if (outcome === undefined) break;
      await journaling;
      const done = outcome;
      journaling = record(batch, done).then(() => {
        finished++;
        progress.inFlight -= batch.length;
        report();
      });
      journaling.catch(() => {});
    }
    await journaling;
  };

  report();
  try {
    await Promise.all(
      Array.from({ length: Math.min(concurrency, batches.length) }, () =>
        worker().catch((error: unknown) => {
          fatal ??= { error };
          stop.abort(new DOMException("the run stopped on an error", "AbortError"));
        }),
      ),
    );
  } finally {
    o.signal?.removeEventListener("abort", onUserAbort);
    await writer.close();
  }
  if (fatal !== undefined) throw fatal.error;
  stats.seconds = (now() - started) / 1000;
  return { results, complete: finished === batches.length, resumed, stats };
}
