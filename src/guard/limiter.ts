/** Per-key rate limits and quotas, holding each key's bucket state (the math is core/guard/token-bucket.ts). */
import {
  type BucketState,
  parsePerPeriod,
  type QuotaState,
  ratePerSecond,
  takeQuota,
  takeToken,
} from "../core/guard/token-bucket.js";
import type { KeyRecord } from "./keys-file.js";

export interface LimitDefaults {
  rate?: string | undefined;
  burst?: number | undefined;
  quota?: string | undefined;
}

export type LimitVerdict = { ok: true } | { ok: false; retryAfterMs: number; why: "rate" | "quota" };

export interface Limiter {
  take(key: KeyRecord, now: number): LimitVerdict;
}

export function createLimiter(defaults: LimitDefaults): Limiter {
  const buckets = new Map<string, BucketState>();
  const quotas = new Map<string, QuotaState>();
  return {
    take(key, now) {
      const rateText = key.rate ?? defaults.rate;
      const quotaText = key.quota ?? defaults.quota;
      if (rateText !== undefined) {
        const rate = ratePerSecond(rateText) as number;
        const burst = key.burst ?? defaults.burst ?? Math.max(1, Math.ceil(rate));
        const r = takeToken({ ratePerSec: rate, burst }, buckets.get(key.id), now);
        buckets.set(key.id, r.state);
        if (!r.ok) return { ok: false, retryAfterMs: r.retryAfterMs, why: "rate" };
      }
      if (quotaText !== undefined) {
        const q = parsePerPeriod(quotaText) as { count: number; periodMs: number };
        const r = takeQuota({ limit: q.count, periodMs: q.periodMs }, quotas.get(key.id), now);
        quotas.set(key.id, r.state);
        if (!r.ok) return { ok: false, retryAfterMs: r.retryAfterMs, why: "quota" };
      }
      return { ok: true };
    },
  };
}
