/**
 * Per-client rate limits and quotas, as pure functions of a state and the current time (ms): the
 * guard keeps the states and passes the clock in, so limits are tested without waiting.
 */

/** A rate: `ratePerSec` tokens refill each second, at most `burst` stored. */
export interface BucketSpec {
  ratePerSec: number;
  burst: number;
}
export interface BucketState {
  tokens: number;
  /** When `tokens` was computed (ms). */
  at: number;
}
/** A quota: at most `limit` requests per fixed window of `periodMs`. */
export interface QuotaSpec {
  limit: number;
  periodMs: number;
}
export interface QuotaState {
  windowStart: number;
  used: number;
}

export type Take<S> = { ok: true; state: S } | { ok: false; state: S; retryAfterMs: number };

/** Takes one token, refilling by the time passed since the last take. A full bucket starts at `burst`. */
export function takeToken(spec: BucketSpec, state: BucketState | undefined, now: number): Take<BucketState> {
  const prev = state ?? { tokens: spec.burst, at: now };
  const elapsed = Math.max(0, now - prev.at) / 1000;
  const tokens = Math.min(spec.burst, prev.tokens + elapsed * spec.ratePerSec);
  if (tokens >= 1) return { ok: true, state: { tokens: tokens - 1, at: now } };
  const retryAfterMs = Math.ceil(((1 - tokens) / spec.ratePerSec) * 1000);
  return { ok: false, state: { tokens, at: now }, retryAfterMs };
}

/** Counts one request in the current window; refused once `limit` are used, until the window ends. */
export function takeQuota(spec: QuotaSpec, state: QuotaState | undefined, now: number): Take<QuotaState> {
  const start = state === undefined || now - state.windowStart >= spec.periodMs ? now : state.windowStart;
  const used = state === undefined || start !== state.windowStart ? 0 : state.used;
  if (used >= spec.limit) {
    return { ok: false, state: { windowStart: start, used }, retryAfterMs: start + spec.periodMs - now };
  }
  return { ok: true, state: { windowStart: start, used: used + 1 } };
}

const UNITS: Readonly<Record<string, number>> = {
  s: 1000,
  sec: 1000,
  second: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
};

/** `"20/s"`, `"100/min"`, `"10000/day"` → count and period, or undefined when it is not one. */
export function parsePerPeriod(text: string): { count: number; periodMs: number } | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*([a-z]+)\s*$/i.exec(text);
  if (m === null) return undefined;
  const count = Number(m[1]);
  const periodMs = UNITS[(m[2] as string).toLowerCase()];
  if (periodMs === undefined || !Number.isFinite(count) || count <= 0) return undefined;
  return { count, periodMs };
}

/** A rate text as a bucket refill per second. */
export function ratePerSecond(text: string): number | undefined {
  const p = parsePerPeriod(text);
  return p === undefined ? undefined : (p.count * 1000) / p.periodMs;
}
