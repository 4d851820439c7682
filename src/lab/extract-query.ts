import { FAILURE_KINDS, type FailureKind, type QueryInput, type SuspectAdapter } from "../detect/adapters/types.js";
import { Pacer, RETRY_AFTER_CAP_MS, retryDelayMs, wait } from "../detect/runner/pacing.js";
import { ProvmarkError } from "../errors.js";

/** The API's answer to one query: its top-1 class, and its score vector when it gave one. */
export interface ApiAnswer {
  label: number;
  scores?: number[];
}

export interface QueryStats {
  /** Distinct queries spent (each counted once, however often it was retried). */
  sent: number;
  answered: number;
  /** Sent and never answered (after retries): dropped from training. */
  failed: number;
  /** HTTP requests (every attempt). */
  requests: number;
  /** Attempts repeated after a retryable fault (429s included). */
  retries: number;
  /** 429 answers, each followed by a wait (the server's Retry-After when given). */
  rateLimited: number;
  failuresByKind: Record<FailureKind, number>;
}

export interface QuerierOptions {
  concurrency: number;
  /** Queries per request (at most the adapter's maxBatch). */
  batchSize: number;
  /** Extra attempts after a network fault, timeout or 5xx. */
  retries: number;
  timeoutMs: number;
  /** Most requests started per second; null for no limit. */
  rps: number | null;
  /**
   * 429s are waited out (Retry-After honoured, capped at 60 s) without spending `retries`, so a
   * rate-limited API slows the thief rather than failing it; a batch gives up after this long waiting.
   */
  maxRateLimitWaitMs: number;
  signal?: AbortSignal;
  random?: () => number;
}

/**
 * Sends the thief's queries through a suspect adapter, batched, `concurrency` requests in flight,
 * with the detection runner's pacing and backoff. Nothing is journaled: an extraction is rerun, not
 * resumed. An HTTP 401/403 stops all querying (retrying does not make a key valid): `refused`.
 */
export class ApiQuerier {
  readonly stats: QueryStats = {
    sent: 0,
    answered: 0,
    failed: 0,
    requests: 0,
    retries: 0,
    rateLimited: 0,
    failuresByKind: Object.fromEntries(FAILURE_KINDS.map((k) => [k, 0])) as Record<FailureKind, number>,
  };
  /** Set once the API refused a request (HTTP 401/403); later calls send nothing. */
  refused: ProvmarkError | undefined;
  /** The first failed item's detail (secrets redacted by the adapter), for error messages. */
  firstFailure: string | undefined;
  readonly #adapter: SuspectAdapter;
  readonly #o: QuerierOptions;
  readonly #pacer: Pacer;
  readonly #batchSize: number;
  #next = 0;

  constructor(adapter: SuspectAdapter, o: QuerierOptions) {
    this.#adapter = adapter;
    this.#o = o;
    this.#pacer = new Pacer(o.rps, Date.now);
    this.#batchSize = Math.max(1, Math.min(o.batchSize, adapter.maxBatch));
  }

  /**
   * Asks the API about every image (H×W×C bytes of `shape`); resolves with one answer per image, in
   * order, null where the query failed. `onDone` gets the number of queries finished so far. After
   * an HTTP 401/403 no new request starts, the ones in flight finish, and `refused` is set.
   */
  async ask(
    images: readonly Uint8Array[],
    shape: readonly [number, number, number],
    onDone?: (finished: number) => void,
  ): Promise<(ApiAnswer | null)[]> {
    const out = new Array<ApiAnswer | null>(images.length).fill(null);
    if (this.refused !== undefined) return out;
    const batches: { start: number; items: QueryInput[] }[] = [];
    for (let s = 0; s < images.length; s += this.#batchSize) {
      const items = images
        .slice(s, s + this.#batchSize)
        .map((pixels) => ({ id: `q${this.#next++}`, pixels, shape }) satisfies QueryInput);
      batches.push({ start: s, items });
    }
    const stop = new AbortController();
    const onAbort = () => stop.abort(this.#o.signal?.reason);
    this.#o.signal?.addEventListener("abort", onAbort, { once: true });
    if (this.#o.signal?.aborted) onAbort();
    let finished = 0;
    let taken = 0;
    let fatal: { error: unknown } | undefined;
    const worker = async () => {
      while (fatal === undefined && !stop.signal.aborted && taken < batches.length) {
        const b = batches[taken++] as (typeof batches)[number];
        try {
          await this.#one(b.items, stop.signal, (i, a) => {
            out[b.start + i] = a;
          });
        } catch (e) {
          fatal ??= { error: e };
          stop.abort(e);
          return;
        }
        finished += b.items.length;
        onDone?.(finished);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.#o.concurrency, batches.length) }, worker));
    } finally {
      this.#o.signal?.removeEventListener("abort", onAbort);
    }
    if (fatal !== undefined) {
      // A refusal mid-run (a guard that blocks a client it caught) ends the querying, not the
      // extraction: the caller trains on what was answered.
      if (!(fatal.error instanceof ProvmarkError && fatal.error.code === "EXTRACT_UNAUTHORIZED")) throw fatal.error;
      this.refused ??= fatal.error;
    }
    if (this.#o.signal?.aborted) {
      throw new ProvmarkError("USAGE", "the extraction was cancelled", {
        subject: "signal",
        cause: this.#o.signal.reason,
      });
    }
    return out;
  }

  async #one(batch: QueryInput[], signal: AbortSignal, put: (i: number, a: ApiAnswer) => void): Promise<void> {
    let faults = 0;
    let waited = 0;
    for (;;) {
      if (!(await this.#pacer.take(signal))) return;
      const ctrl = new AbortController();
      const timer = setTimeout(
        () => ctrl.abort(new DOMException(`no answer within ${this.#o.timeoutMs} ms`, "TimeoutError")),
        this.#o.timeoutMs,
      );
      this.stats.requests++;
      let outcome: Awaited<ReturnType<SuspectAdapter["send"]>>;
      try {
        outcome = await this.#adapter.send(batch, ctrl.signal);
      } finally {
        clearTimeout(timer);
      }
      const status = outcome.exchange.status;
      if (status === 401 || status === 403) {
        // The guard saw these queries: they are spent, and failed.
        this.stats.sent += batch.length;
        this.stats.failed += batch.length;
        this.stats.failuresByKind["http-4xx"] += batch.length;
        throw unauthorized(status, this.#adapter.target, outcome.items);
      }
      const limited = status === 429;
      if (limited) this.stats.rateLimited++;
      const retry = outcome.retryable && (limited ? waited < this.#o.maxRateLimitWaitMs : faults < this.#o.retries);
      if (retry && !signal.aborted) {
        // The first network fault is retried at once: after a training round the server has closed
        // the idle keep-alive connections, and a request on one dies (ECONNRESET) before it is read.
        const stale = faults === 0 && status === null && outcome.items.every((r) => !r.ok && r.failure === "network");
        const ms = limited
          ? Math.min(RETRY_AFTER_CAP_MS, outcome.retryAfterMs ?? 1000)
          : stale
            ? 0
            : retryDelayMs(faults, outcome.retryAfterMs, this.#o.random);
        if (limited) waited += ms;
        else faults++;
        this.stats.retries++;
        if (await wait(ms, signal)) continue;
      }
      this.stats.sent += batch.length;
      for (const [i, r] of outcome.items.entries()) {
        if (r.ok) {
          this.stats.answered++;
          put(i, r.scores === undefined ? { label: r.label } : { label: r.label, scores: r.scores });
        } else {
          this.stats.failed++;
          this.stats.failuresByKind[r.failure]++;
          this.firstFailure ??= `${r.failure}: ${r.detail}`;
        }
      }
      return;
    }
  }
}

function unauthorized(status: number, target: string, items: readonly { ok: boolean; detail?: string }[]) {
  const detail = items.find((r) => !r.ok)?.detail;
  return new ProvmarkError(
    "EXTRACT_UNAUTHORIZED",
    `${target} refused the queries with HTTP ${status} (${status === 401 ? "not authenticated" : "forbidden"})${detail ? `: ${detail}` : ""}`,
    {
      subject: "--header",
      hints: [
        status === 401
          ? 'The API wants a key: pass --header "Authorization: env:VAR" with VAR="Bearer <key>" exported.'
          : "The key is known but may not predict (wrong role, or revoked).",
      ],
    },
  );
}
