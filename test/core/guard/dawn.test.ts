import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toHex } from "../../../src/core/digest/bytes.js";
import { dawnDecision, deriveDawnKey, rewriteAnswer } from "../../../src/core/guard/dawn.js";
import { envelopeKey } from "../../../src/core/keys/derive.js";
import { ProvmarkError } from "../../../src/errors.js";

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const hashOf = (i: number) => Uint8Array.of(i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff, (i >>> 24) & 0xff);
/** Accepts counts within 5 standard deviations of Binomial(n, p): a false failure has odds below 1e-6. */
const withinBinomial = (k: number, n: number, p: number) => Math.abs(k - n * p) <= 5 * Math.sqrt(n * p * (1 - p)) + 1;

describe("dawnDecision", () => {
  // Known answers computed independently with Python's hmac/hashlib (the message layout of dawn.ts).
  it.each([
    ["alice", [1, 7, 3], 1, 10, 0, 5],
    ["alice", [1, 7, 3], 1, 10, 9, 4],
    ["bob", [1, 7, 3], 1, 10, 0, 2],
    ["alice", [1, 7, 4], 1, 1000, 500, 426],
    ["alice", [17, 2, 0, 0], 0.005, 10, 3, 0],
  ])("known answer: client %j hash %j rate %d, %d classes, served %d → label %d", (c, h, rate, k, served, label) => {
    expect(dawnDecision(KEY, c, Uint8Array.from(h), rate, k, served)).toEqual({ altered: true, label });
  });

  it.each([
    ["alice", [1, 7, 3], 0.005, 10, 0],
    ["", [], 0.5, 2, 1],
  ])("known answer: client %j hash %j rate %d is not altered", (c, h, rate, k, served) => {
    expect(dawnDecision(KEY, c, Uint8Array.from(h), rate, k, served)).toEqual({ altered: false });
  });

  it("alters a fraction of distinct hashes within binomial bounds of the rate", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 32 }), fc.constantFrom(0.005, 0.05, 0.3), (key, rate) => {
        const n = 4000;
        let altered = 0;
        for (let i = 0; i < n; i++) if (dawnDecision(key, "c", hashOf(i), rate, 10, i % 10).altered) altered++;
        expect(withinBinomial(altered, n, rate)).toBe(true);
      }),
      { numRuns: 12 },
    );
  });

  it("never picks the served label, and is deterministic", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 64 }),
        fc.string(),
        fc.uint8Array({ maxLength: 40 }),
        fc.integer({ min: 2, max: 2000 }).chain((k) => fc.tuple(fc.constant(k), fc.integer({ min: 0, max: k - 1 }))),
        (key, client, hash, [classes, served]) => {
          const d = dawnDecision(key, client, hash, 1, classes, served);
          expect(d.altered).toBe(true);
          if (!d.altered) return;
          expect(d.label).not.toBe(served);
          expect(d.label).toBeGreaterThanOrEqual(0);
          expect(d.label).toBeLessThan(classes);
          expect(dawnDecision(Uint8Array.from(key), client, Uint8Array.from(hash), 1, classes, served)).toEqual(d);
        },
      ),
    );
  });

  it("draws the label uniformly over the other C − 1 classes (chi-square)", () => {
    const n = 18_000;
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < n; i++) {
      const d = dawnDecision(KEY, "uniform", hashOf(i), 1, 10, 3);
      if (d.altered) counts[d.label] = (counts[d.label] as number) + 1;
    }
    expect(counts[3]).toBe(0);
    const expected = n / 9;
    const chi2 = counts.reduce((a, c, j) => (j === 3 ? a : a + (c - expected) ** 2 / expected), 0);
    // 8 degrees of freedom: P(χ² > 40) ≈ 3e-6.
    expect(chi2).toBeLessThan(40);
  });

  it("decides independently for another client or key (agreement ≈ r² + (1 − r)²)", () => {
    const n = 4000;
    let agreeClient = 0;
    let agreeKey = 0;
    const other = Uint8Array.from(KEY, (b) => b ^ 1);
    for (let i = 0; i < n; i++) {
      const a = dawnDecision(KEY, "alice", hashOf(i), 0.5, 10, 0).altered;
      if (a === dawnDecision(KEY, "bob", hashOf(i), 0.5, 10, 0).altered) agreeClient++;
      if (a === dawnDecision(other, "alice", hashOf(i), 0.5, 10, 0).altered) agreeKey++;
    }
    expect(withinBinomial(agreeClient, n, 0.5)).toBe(true);
    expect(withinBinomial(agreeKey, n, 0.5)).toBe(true);
  });

  it("length-prefixes the client id, so ('ab', hash) and ('a', 'b' ‖ hash) differ", () => {
    const h = Uint8Array.of(1, 2, 3);
    const agree = Array.from({ length: 200 }, (_, i) => {
      const a = dawnDecision(KEY, `ab${i}`, h, 0.5, 10, 0).altered;
      return (
        a === dawnDecision(KEY, `a`, Uint8Array.of(...new TextEncoder().encode(`b${i}`), 1, 2, 3), 0.5, 10, 0).altered
      );
    }).filter(Boolean).length;
    expect(agree).toBeLessThan(150);
  });

  it.each([
    ["a short key", new Uint8Array(8), 0.1, 10, 0],
    ["a rate above 1", KEY, 1.5, 10, 0],
    ["a NaN rate", KEY, Number.NaN, 10, 0],
    ["one class", KEY, 0.1, 1, 0],
    ["a served label out of range", KEY, 0.1, 10, 10],
  ])("refuses %s", (_what, key, rate, classes, served) => {
    expect(() => dawnDecision(key, "c", new Uint8Array(1), rate, classes, served)).toThrow(ProvmarkError);
  });
});

describe("rewriteAnswer", () => {
  it("swaps the served and new labels' scores: same multiset, new label on top, others unmoved", () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 2, maxLength: 20 })
          .chain((s) =>
            fc.tuple(
              fc.constant(s),
              fc.integer({ min: 0, max: s.length - 1 }),
              fc.integer({ min: 0, max: s.length - 1 }),
            ),
          ),
        ([raw, newLabel]) => {
          const total = raw.reduce((a, b) => a + b, 0) || 1;
          const scores = raw.map((v) => v / total);
          const served = scores.indexOf(Math.max(...scores));
          const r = rewriteAnswer(scores, served, newLabel);
          expect(r.label).toBe(newLabel);
          expect([...(r.scores ?? [])].sort()).toEqual([...scores].sort());
          expect(r.scores?.[newLabel]).toBe(Math.max(...scores));
          for (let i = 0; i < scores.length; i++)
            if (i !== served && i !== newLabel) expect(r.scores?.[i]).toBe(scores[i]);
        },
      ),
    );
  });

  it("a labels-only answer just becomes the new label", () => {
    expect(rewriteAnswer(undefined, 3, 7)).toEqual({ label: 7 });
  });

  it("refuses labels outside the score vector", () => {
    expect(() => rewriteAnswer([0.5, 0.5], 0, 2)).toThrow(ProvmarkError);
  });
});

describe("deriveDawnKey", () => {
  it("is HKDF-SHA256 of the seed under its own label (known answer from Python's hmac)", () => {
    const k = deriveDawnKey(KEY);
    expect(toHex(k)).toBe("11559c827b34adf026f808d49f30aa7b6cc756502481e3a6f5aebb2e28ed20b6");
    expect(toHex(k)).not.toBe(toHex(envelopeKey(KEY)));
  });
});
