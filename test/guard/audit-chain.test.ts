import { describe, expect, it } from "vitest";
import {
  type AuditEntry,
  type AuditRecord,
  chainEntry,
  checkAnchors,
  entryHash,
  entryHashes,
  GENESIS_HASH,
  verifyChain,
} from "../../src/core/guard/audit-chain.js";

const record = (i: number): AuditRecord => ({
  time: new Date(i * 1000).toISOString(),
  client: `k_00000000000${i % 10}`,
  method: "POST",
  path: "/v1/models/m:predict",
  requestSha256: "a".repeat(64),
  responseSha256: "b".repeat(64),
  status: 200,
  decision: "forwarded",
  altered: false,
});

function log(n: number): AuditEntry[] {
  const out: AuditEntry[] = [];
  let head = { hash: GENESIS_HASH, count: 0 };
  for (let i = 0; i < n; i++) {
    const e = chainEntry(head, record(i));
    out.push(e);
    head = { hash: e.hash, count: i + 1 };
  }
  return out;
}
const text = (entries: readonly unknown[]) => entries.map((e) => `${JSON.stringify(e)}\n`).join("");

describe("audit hash chain", () => {
  it("verifies an intact log and reports its head", () => {
    const entries = log(5);
    const c = verifyChain(text(entries));
    expect(c).toEqual({ ok: true, count: 5, head: entries[4]?.hash, problems: [], tornTail: false });
    expect(verifyChain("")).toMatchObject({ ok: true, count: 0, head: GENESIS_HASH });
  });

  it("hashes SHA-256(prev ‖ canonical JSON) with sorted keys", () => {
    const [e] = log(1) as [AuditEntry];
    const { hash, ...rest } = e;
    const reordered = Object.fromEntries(Object.entries(rest).reverse()) as typeof rest;
    expect(entryHash(GENESIS_HASH, reordered)).toBe(hash);
  });

  it("detects a deleted entry", () => {
    const entries = log(5);
    entries.splice(2, 1);
    const c = verifyChain(text(entries));
    expect(c.ok).toBe(false);
    expect(c.problems[0]).toMatchObject({ line: 3 });
    expect(c.count).toBe(2);
  });

  it("detects a rewritten entry, even with its own hash recomputed", () => {
    const entries = log(5);
    const forged = { ...(entries[1] as AuditEntry), status: 401, decision: "refused-401" as const };
    expect(verifyChain(text(entries.map((e, i) => (i === 1 ? forged : e)))).problems[0]).toMatchObject({
      line: 2,
      what: expect.stringMatching(/rewritten/),
    });
    const { hash: _, ...unhashed } = forged;
    const rehashed = { ...forged, hash: entryHash(forged.prev, unhashed) };
    const c = verifyChain(text(entries.map((e, i) => (i === 1 ? rehashed : e))));
    expect(c.ok).toBe(false);
    expect(c.problems[0]?.line).toBe(3);
  });

  it("detects reordered entries", () => {
    const entries = log(4);
    const swapped = [entries[0], entries[2], entries[1], entries[3]];
    expect(verifyChain(text(swapped)).problems[0]?.line).toBe(2);
  });

  it("reports a torn last line apart from damage", () => {
    const full = text(log(3));
    const torn = full.slice(0, full.length - 20);
    const c = verifyChain(torn);
    expect(c).toMatchObject({ ok: false, tornTail: true, count: 2, problems: [] });
    const middle = full.replace("\n", "garbage\n");
    expect(verifyChain(middle).problems).toHaveLength(1);
  });

  it("an anchored head exposes a truncated tail and a rewritten history", () => {
    const entries = log(6);
    const anchor = { head: (entries[4] as AuditEntry).hash, count: 5 };
    expect(checkAnchors(entryHashes(text(entries)), [anchor])).toEqual([]);
    // the tail cut after anchoring: the chain itself still verifies
    const cut = text(entries.slice(0, 3));
    expect(verifyChain(cut).ok).toBe(true);
    expect(checkAnchors(entryHashes(cut), [anchor])[0]?.what).toMatch(/truncated/);
    // the whole log regenerated from entry 2 on (a consistent forgery): the anchor does not match
    let head = { hash: (entries[1] as AuditEntry).hash, count: 2 };
    const forged = entries.slice(0, 2);
    for (let i = 2; i < 6; i++) {
      const e = chainEntry(head, { ...record(i), status: 403 });
      forged.push(e);
      head = { hash: e.hash, count: i + 1 };
    }
    expect(verifyChain(text(forged)).ok).toBe(true);
    expect(checkAnchors(entryHashes(text(forged)), [anchor])[0]?.what).toMatch(/rewritten/);
  });
});
