/** Waiting in the runner: backoff between attempts, request pacing, sleeps that end on abort. */

/** Backoff before retry `attempt` (0-based): 0.5 s · 2^attempt, at most 30 s, times a jitter in [0.5, 1). */
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 30_000;
/** A server's Retry-After is honoured up to this long. */
export const RETRY_AFTER_CAP_MS = 60_000;

export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(ceiling * (0.5 + 0.5 * random()));
}

/** The wait before the next attempt: the server's Retry-After (capped) when given, else backoff. */
export function retryDelayMs(attempt: number, retryAfterMs: number | undefined, random?: () => number): number {
  if (retryAfterMs !== undefined) return Math.min(RETRY_AFTER_CAP_MS, Math.max(0, retryAfterMs));
  return backoffMs(attempt, random);
}

export type Sleep = (ms: number) => Promise<void>;

/**
 * Waits `ms`, or less if `signal` aborts first (then resolves false). With an injected `sleep` (tests)
 * the wait is that function, raced against the signal; otherwise a timer cleared on abort, so Ctrl-C
 * during a long Retry-After exits at once.
 */
export function wait(ms: number, signal: AbortSignal, sleep?: Sleep): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0 && sleep === undefined) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      if (timer !== undefined) clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const done = () => {
      signal.removeEventListener("abort", onAbort);
      resolve(!signal.aborted);
    };
    if (sleep !== undefined) sleep(ms).then(done, done);
    else timer = setTimeout(done, ms);
  });
}

/**
 * Spaces request starts at least 1/rps apart (a token bucket holding one token): each `take`
 * reserves the next free slot, so concurrent workers never exceed the rate and a fake clock that
 * does not advance cannot make it spin.
 */
export class Pacer {
  #next = Number.NEGATIVE_INFINITY;
  readonly #interval: number;
  readonly #now: () => number;
  readonly #sleep: Sleep | undefined;

  constructor(rps: number | null, now: () => number, sleep?: Sleep) {
    this.#interval = rps === null ? 0 : 1000 / rps;
    this.#now = now;
    this.#sleep = sleep;
  }

  /** Resolves when the caller may start a request; false if `signal` aborted meanwhile. */
  async take(signal: AbortSignal): Promise<boolean> {
    if (this.#interval === 0) return !signal.aborted;
    const t = this.#now();
    const at = Math.max(t, this.#next);
    this.#next = at + this.#interval;
    return at > t ? wait(at - t, signal, this.#sleep) : !signal.aborted;
  }
}
