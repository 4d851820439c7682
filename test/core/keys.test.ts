import { sha256 } from "@noble/hashes/sha2.js";
import { describe, expect, it } from "vitest";
import { toHex } from "../../src/core/digest/bytes.js";
import { KeyStream, keyCommitment, secretCommitment } from "../../src/core/keys/derive.js";
import { paramsFromV1, type WatermarkKey } from "../../src/core/watermark/params.js";
import { deriveTriggers, triggerPixels } from "../../src/core/watermark/triggers.js";
import { deriveMessage, deriveProjection } from "../../src/core/watermark/weight-mark.js";

const seed = Uint8Array.from({ length: 32 }, (_, i) => i);

describe("key derivation (HKDF-SHA256 streams)", () => {
  // Known answers computed independently with Python's hmac/hashlib (RFC 5869 HKDF, see docs/watermark.md).
  it("matches an independent HKDF computation, across the 8160-byte block boundary", () => {
    const bytes = new KeyStream(seed, "test/label").bytes(8200);
    expect(toHex(bytes.subarray(0, 32))).toBe("416f3808c942dfd83a061cf5134714902a5aebf4f008ab0d086d1a1109b5dce4");
    expect(toHex(bytes.subarray(8150, 8170))).toBe("0c13cf8e7c587dd708b6e46d4a3dba38a8ce741c");
    expect(new KeyStream(seed, "test/label").u32()).toBe(137916225);
    expect(toHex(keyCommitment(seed))).toBe("0dcb623abba6897aeba1736c198b5359fb482e57ddcfcbdf00e94730d2b944db");
  });

  it("gives the same bytes however they are requested", () => {
    const a = new KeyStream(seed, "x").bytes(10_000);
    const s = new KeyStream(seed, "x");
    const parts = [s.bytes(1), s.bytes(8159), s.bytes(2), s.bytes(1838)];
    expect(toHex(Uint8Array.from(parts.flatMap((p) => [...p])))).toBe(toHex(a));
  });

  it("separates domains: other labels and seeds give unrelated streams", () => {
    const a = toHex(new KeyStream(seed, "a").bytes(32));
    expect(toHex(new KeyStream(seed, "b").bytes(32))).not.toBe(a);
    expect(
      toHex(
        new KeyStream(
          seed.map((v) => v ^ 1),
          "a",
        ).bytes(32),
      ),
    ).not.toBe(a);
  });

  it("draws unbiased integers and standard normals", () => {
    const s = new KeyStream(seed, "stats");
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[s.int(7)]++;
    const chi2 = counts.reduce((a, c) => a + (c - 10_000) ** 2 / 10_000, 0);
    expect(chi2).toBeLessThan(22.5); // p ≈ 0.001 for 6 degrees of freedom
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < 50_000; i++) {
      const g = s.gaussian();
      sum += g;
      sq += g * g;
    }
    expect(Math.abs(sum / 50_000)).toBeLessThan(0.02);
    expect(Math.abs(sq / 50_000 - 1)).toBeLessThan(0.03);
    expect(() => s.int(0)).toThrow(RangeError);
  });

  it("commits to secrets with a seed-derived salt", () => {
    const data = new Uint8Array([1, 0, 1]);
    const c = toHex(secretCommitment(seed, "message", data));
    expect(c).not.toBe(toHex(sha256(data)));
    expect(toHex(secretCommitment(seed, "message", new Uint8Array([1, 1, 1])))).not.toBe(c);
    expect(toHex(secretCommitment(seed, "projection", data))).not.toBe(c);
  });
});

describe("watermark secrets are fixed by the seed", () => {
  const key: WatermarkKey = {
    seed,
    // v1 derivation (HKDF streams), as old keys still use: its known answers must never move.
    params: paramsFromV1({
      classes: 10,
      inputShape: [28, 28, 1],
      layer: "dense1",
      bits: 64,
      triggers: 20,
      family: "noise",
      stampStrength: 0.3,
    }),
    stampBases: [],
  };

  // Labels and message bits confirmed with the independent Python HKDF (rejection sampling included).
  it("pins the trigger set, projection and message (regression known answers)", () => {
    const triggers = deriveTriggers(key);
    const h = sha256.create();
    for (const t of triggers) h.update(triggerPixels(t)).update(Uint8Array.of(t.label));
    expect(triggers.map((t) => t.label)).toMatchInlineSnapshot(`
      [
        2,
        3,
        1,
        0,
        6,
        6,
        9,
        5,
        0,
        6,
        4,
        5,
        1,
        1,
        2,
        5,
        6,
        6,
        4,
        2,
      ]
    `);
    expect(toHex(h.digest())).toMatchInlineSnapshot(
      `"4b2caabb055c52efeb75b2bd94390c432b17331a88cb9e3a3753a9fa815ca054"`,
    );
    expect(Array.from(deriveMessage(seed, 16))).toMatchInlineSnapshot(`
      [
        0,
        0,
        0,
        1,
        1,
        0,
        1,
        0,
        1,
        1,
        1,
        1,
        1,
        1,
        0,
        1,
      ]
    `);
    expect(Array.from(deriveProjection(seed, 2, 3)).map((v) => v.toFixed(6))).toMatchInlineSnapshot(`
      [
        "1.699882",
        "1.473608",
        "0.038398",
        "-0.979543",
        "0.458816",
        "0.441466",
      ]
    `);
  });

  it("gives each trigger the null probability of its family and a label in range", () => {
    const C = 10;
    const bases = Array.from({ length: 10 }, (_, i) => ({ pixels: new Uint8Array(784).fill(i * 20), label: i }));
    const mixed = deriveTriggers({ ...key, params: { ...key.params, family: "mixed" }, stampBases: bases });
    expect(mixed.filter((t) => t.family === "stamp")).toHaveLength(10);
    for (const t of mixed) {
      expect(t.nullProbability).toBe(t.family === "noise" ? 1 / C : 1 / (C - 1));
      expect(t.label).toBeGreaterThanOrEqual(0);
      expect(t.label).toBeLessThan(C);
    }
    // stamp labels avoid the base image's true class, and the stamp changes the image
    for (const [i, t] of mixed.filter((x) => x.family === "stamp").entries()) {
      expect(t.label).not.toBe(bases[i]?.label);
      expect(Buffer.from(t.input).equals(Buffer.from(bases[i]?.pixels ?? []))).toBe(false);
    }
  });
});
