import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type MerkleProof,
  merkleProof,
  merkleProofs,
  merkleRoot,
  triggerLeaf,
  verifyMerkleProof,
} from "../../../src/core/commit/merkle.js";

// Encodings are rebuilt here by hand rather than through src/core/digest/bytes.ts, so a bug there cannot hide.
const enc = new TextEncoder();
const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));
const le32 = (n: number) => Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
const leafByHand = (i: number, input: Uint8Array, label: number) =>
  sha256(cat(Uint8Array.of(0x00), enc.encode("provmark/trigger/v1\0"), le32(i), sha256(input), le32(label)));
const nodeByHand = (l: Uint8Array, r: Uint8Array) => sha256(cat(Uint8Array.of(0x01), l, r));

const at = <T>(xs: readonly T[], i: number): T => {
  const x = xs[i];
  if (x === undefined) throw new Error(`no element ${i}`);
  return x;
};
const leavesFor = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => triggerLeaf(i, enc.encode(`t-${seed}-${i}`), (seed + i) % 7));
const flip = (b: Uint8Array, pos: number, mask: number) => {
  const c = b.slice();
  c[pos] = (c[pos] ?? 0) ^ mask;
  return c;
};
// Reference for the path the verifier walks: sibling sides bottom-up, promoted levels left out.
const sides = (index: number, n: number): string => {
  let s = "";
  for (let i = index; n > 1; i = Math.floor(i / 2), n = Math.ceil(n / 2)) s += i % 2 ? "R" : i + 1 < n ? "L" : "";
  return s;
};

describe("merkle proofs", () => {
  it("verify for every index, and fail once the leaf, a sibling, the index or the root changes", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }),
        fc.nat(10_000),
        fc.integer({ min: 0, max: 31 }),
        fc.integer({ min: 1, max: 255 }),
        (n, seed, pos, mask) => {
          const leaves = leavesFor(n, seed);
          const root = merkleRoot(leaves);
          const otherRoot = merkleRoot(leavesFor(n, seed + 10_001));
          const proofs = merkleProofs(
            leaves,
            leaves.map((_, i) => i),
          );
          proofs.forEach((p, i) => {
            const leaf = at(leaves, i);
            expect(p).toEqual(merkleProof(leaves, i));
            expect(verifyMerkleProof(root, leaf, p)).toBe(true);
            expect(verifyMerkleProof(root, flip(leaf, pos, mask), p)).toBe(false);
            p.siblings.forEach((s, k) => {
              const siblings = p.siblings.with(k, bytesToHex(flip(hexToBytes(s), pos, mask)));
              expect(verifyMerkleProof(root, leaf, { ...p, siblings })).toBe(false);
            });
            // Another index in range (when n > 1) and one out of range; no two indices share a path.
            for (const j of [i ^ 1, (i + 1) % n, i + n].filter((j) => j !== i)) {
              expect(verifyMerkleProof(root, leaf, { ...p, index: j })).toBe(false);
            }
            expect(verifyMerkleProof(otherRoot, leaf, p)).toBe(false);
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it("fail when claimed for another leafCount that changes the path", () => {
    let changed = 0;
    for (let n = 1; n <= 40; n++) {
      const leaves = leavesFor(n, n);
      const root = merkleRoot(leaves);
      merkleProofs(
        leaves,
        leaves.map((_, i) => i),
      ).forEach((p, i) => {
        for (let m = 1; m <= 80; m++) {
          if (m === n) continue;
          const samePath = i < m && sides(i, m) === sides(i, n);
          if (!samePath) changed++;
          // A count with the same path is indistinguishable (the root does not commit to N): callers pin N.
          expect(verifyMerkleProof(root, at(leaves, i), { ...p, leafCount: m })).toBe(samePath);
        }
      });
    }
    expect(changed).toBeGreaterThan(10_000);
    // Index 4 of 5 is promoted twice (one sibling); in a tree of 6 it has two siblings.
    const five = leavesFor(5, 0);
    expect(verifyMerkleProof(merkleRoot(five), at(five, 4), { ...merkleProof(five, 4), leafCount: 6 })).toBe(false);
  });

  it("matches roots computed by hand for 1, 2 and 3 leaves", () => {
    const inputs = ["alpha", "beta", "gamma"].map((s) => enc.encode(s));
    const l = inputs.map((input, i) => leafByHand(i, input, 10 + i));
    expect(inputs.map((input, i) => bytesToHex(triggerLeaf(i, input, 10 + i)))).toEqual(l.map(bytesToHex));
    expect(bytesToHex(merkleRoot(l.slice(0, 1)))).toBe(bytesToHex(at(l, 0)));
    expect(bytesToHex(merkleRoot(l.slice(0, 2)))).toBe(bytesToHex(nodeByHand(at(l, 0), at(l, 1))));
    expect(bytesToHex(merkleRoot(l))).toBe(bytesToHex(nodeByHand(nodeByHand(at(l, 0), at(l, 1)), at(l, 2))));
  });

  it("matches a 5-leaf root pinned by an independent Python hashlib script", () => {
    // H = sha256; leaf(i, inp, lab) = H(b"\x00" + b"provmark/trigger/v1\x00" + struct.pack("<I", i) + H(inp)
    //   + struct.pack("<I", lab)); node(a, b) = H(b"\x01" + a + b); L = [leaf(i, f"trigger-{i}".encode(), i % 3)
    //   for i in range(5)]; root = node(node(node(L[0], L[1]), node(L[2], L[3])), L[4])
    const leaves = Array.from({ length: 5 }, (_, i) => triggerLeaf(i, enc.encode(`trigger-${i}`), i % 3));
    expect(bytesToHex(at(leaves, 0))).toBe("384a4c04dfe11d4606a03c0aa0a88fd406e02c9859144be8482ba76c4e4b8e13");
    expect(bytesToHex(merkleRoot(leaves))).toBe("27ba27c4ccf487b8bd9268b2c5b8ec58c4d62304ed1a130230c78199ff05a591");
  });

  it("gives [a,b,c] and [a,b,c,c] different roots (no odd-node duplication, CVE-2012-2459)", () => {
    const [a, b, c] = [0, 1, 2].map((i) => at(leavesFor(3, 1), i)) as [Uint8Array, Uint8Array, Uint8Array];
    expect(bytesToHex(merkleRoot([a, b, c]))).not.toBe(bytesToHex(merkleRoot([a, b, c, c])));
  });

  it("binds index, input and label into the leaf", () => {
    const base = bytesToHex(triggerLeaf(3, enc.encode("x"), 1));
    expect(bytesToHex(triggerLeaf(4, enc.encode("x"), 1))).not.toBe(base);
    expect(bytesToHex(triggerLeaf(3, enc.encode("y"), 1))).not.toBe(base);
    expect(bytesToHex(triggerLeaf(3, enc.encode("x"), 2))).not.toBe(base);
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) {
      expect(() => triggerLeaf(bad, enc.encode("x"), 0)).toThrow(RangeError);
      expect(() => triggerLeaf(0, enc.encode("x"), bad)).toThrow(RangeError);
    }
  });

  it("rejects building from no leaves, short leaves or out-of-range indices", () => {
    expect(() => merkleRoot([])).toThrow(RangeError);
    expect(() => merkleRoot([new Uint8Array(31)])).toThrow(RangeError);
    const leaves = leavesFor(3, 2);
    for (const bad of [-1, 3, 0.5]) expect(() => merkleProof(leaves, bad)).toThrow(RangeError);
  });

  it("returns false, without throwing, on malformed proofs", () => {
    const leaves = leavesFor(5, 3);
    const root = merkleRoot(leaves);
    const leaf = at(leaves, 1);
    const good = merkleProof(leaves, 1);
    expect(good.siblings).toHaveLength(3);
    expect(verifyMerkleProof(root, leaf, good)).toBe(true);
    const s0 = at(good.siblings, 0);
    const withSibling = (s: unknown) => ({ ...good, siblings: good.siblings.with(0, s as string) });
    const bad: unknown[] = [
      withSibling(s0.slice(2)), // 31 bytes
      withSibling(s0.slice(1)), // odd length
      withSibling(`${s0}00`), // 33 bytes
      withSibling(""),
      withSibling(`zz${s0.slice(2)}`),
      withSibling(`0x${s0.slice(2)}`),
      withSibling(s0.toUpperCase()), // decodes to the right bytes, but is not the canonical spelling
      withSibling(42),
      withSibling(null),
      { ...good, siblings: [...good.siblings, s0] }, // extra sibling
      { ...good, siblings: good.siblings.slice(1) }, // missing sibling
      { ...good, siblings: "not an array" },
      { ...good, index: 5 },
      { ...good, index: -1 },
      { ...good, index: 1.5 },
      { ...good, index: Number.NaN },
      { ...good, index: "1" },
      { ...good, leafCount: 0 },
      { ...good, leafCount: Number.POSITIVE_INFINITY },
      { ...good, leafCount: 2 ** 32 + 1 },
      { index: 1, leafCount: 5 },
      null,
      undefined,
      "proof",
    ];
    for (const p of bad) expect(verifyMerkleProof(root, leaf, p as MerkleProof), JSON.stringify(p)).toBe(false);
    expect(verifyMerkleProof(root.subarray(1), leaf, good)).toBe(false);
    expect(verifyMerkleProof(root, cat(leaf, Uint8Array.of(0)), good)).toBe(false);
    expect(verifyMerkleProof(null as unknown as Uint8Array, leaf, good)).toBe(false);
  });
});
