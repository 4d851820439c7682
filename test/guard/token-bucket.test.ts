import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parsePerPeriod, ratePerSecond, takeQuota, takeToken } from "../../src/core/guard/token-bucket.js";

describe("token bucket", () => {
  it("lets a full burst through, then refuses until a token has refilled", () => {
    const spec = { ratePerSec: 2, burst: 3 };
    let s: Parameters<typeof takeToken>[1];
    const got: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      const r = takeToken(spec, s, 1000);
      got.push(r.ok);
      s = r.state;
    }
    expect(got).toEqual([true, true, true, false]);
    const refused = takeToken(spec, s, 1000);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.retryAfterMs).toBe(500);
    expect(takeToken(spec, s, 1499).ok).toBe(false);
    expect(takeToken(spec, s, 1500).ok).toBe(true);
  });

  it("never admits more than burst + rate·t requests in t seconds (any arrival times)", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.1, max: 100, noNaN: true }),
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 300 }),
        (rate, burst, gaps) => {
          let s: Parameters<typeof takeToken>[1];
          let t = 0;
          let admitted = 0;
          for (const g of gaps) {
            t += g;
            const r = takeToken({ ratePerSec: rate, burst }, s, t);
            s = r.state;
            if (r.ok) admitted++;
          }
          return admitted <= burst + (rate * t) / 1000 + 1e-9;
        },
      ),
    );
  });

  it("a clock going backwards refills nothing", () => {
    const spec = { ratePerSec: 10, burst: 1 };
    const a = takeToken(spec, undefined, 10_000);
    expect(takeToken(spec, a.state, 0).ok).toBe(false);
  });
});

describe("quota", () => {
  it("counts per window and resets when the window ends", () => {
    const spec = { limit: 2, periodMs: 1000 };
    const a = takeQuota(spec, undefined, 0);
    const b = takeQuota(spec, a.state, 10);
    const c = takeQuota(spec, b.state, 20);
    expect([a.ok, b.ok, c.ok]).toEqual([true, true, false]);
    if (!c.ok) expect(c.retryAfterMs).toBe(980);
    expect(takeQuota(spec, c.state, 1000).ok).toBe(true);
  });
});

describe("rate texts", () => {
  it("reads counts per period", () => {
    expect(parsePerPeriod("10000/day")).toEqual({ count: 10000, periodMs: 86_400_000 });
    expect(ratePerSecond("20/s")).toBe(20);
    expect(ratePerSecond("120/min")).toBe(2);
    for (const bad of ["20", "x/s", "0/s", "-1/s", "5/fortnight", ""]) expect(parsePerPeriod(bad)).toBeUndefined();
  });
});
