/** Merkle commitment to the secret trigger set: publish the root, later reveal chosen triggers with proofs. */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { concatBytes, u32le, utf8 } from "../digest/bytes.js";

// Distinct one-byte prefixes for leaves and inner nodes: without them an inner node could be
// presented as a leaf, forging membership of a value that was never committed (second preimage).
const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);
const TRIGGER_TAG = utf8("provmark/trigger/v1\0");
const HASH_LEN = 32;
// Lower-case only, as bytesToHex emits it: one spelling per proof, so proofs compare as plain strings.
const SIBLING_HEX = /^[0-9a-f]{64}$/;

/** Proof that a leaf sits at `index` in a tree of `leafCount` leaves; `siblings` are hex, bottom-up. */
export interface MerkleProof {
  index: number;
  leafCount: number;
  siblings: string[];
}

function assertU32(name: string, n: number): void {
  // u32le silently wraps (2^32 becomes 0), which would let two indices or labels share a leaf.
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`${name} must be a u32, got ${n}`);
}

/**
 * Leaf hash of one trigger: SHA-256(0x00 ‖ "provmark/trigger/v1\0" ‖ u32le(index) ‖ SHA-256(input) ‖ u32le(label)).
 * Hashing the input first keeps the leaf encoding fixed-width whatever the input length.
 * @example
 * const leaf = triggerLeaf(0, new TextEncoder().encode("trigger-0"), 1); // 32 bytes
 */
export function triggerLeaf(index: number, input: Uint8Array, label: number): Uint8Array {
  assertU32("index", index);
  assertU32("label", label);
  return sha256(concatBytes(LEAF_PREFIX, TRIGGER_TAG, u32le(index), sha256(input), u32le(label)));
}

function node(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(concatBytes(NODE_PREFIX, left, right));
}

// Where the path's node sits on each level, derived from (index, leafCount) alone so the verifier
// knows where a node was promoted without a sibling and never has to trust the proof about it.
type Step = "left" | "right" | "promoted";

function pathSteps(index: number, leafCount: number): Step[] {
  const steps: Step[] = [];
  // Math.floor/ceil rather than bit shifts: leafCount may be 2^32, which >>> would wrap to 0.
  for (let i = index, n = leafCount; n > 1; i = Math.floor(i / 2), n = Math.ceil(n / 2)) {
    steps.push(i % 2 === 1 ? "right" : i + 1 < n ? "left" : "promoted");
  }
  return steps;
}

/** All levels bottom-up: levels[0] holds the leaves, the last level holds only the root. */
function buildLevels(leaves: readonly Uint8Array[]): Uint8Array[][] {
  if (leaves.length === 0) throw new RangeError("a Merkle tree needs at least one leaf");
  // Fixed-width leaves keep every root a 32-byte digest and match what the verifier accepts.
  if (leaves.some((l) => l.length !== HASH_LEN)) throw new RangeError(`leaves must be ${HASH_LEN}-byte hashes`);
  let level = [...leaves];
  const levels = [level];
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(node(level[i] as Uint8Array, level[i + 1] as Uint8Array));
    // Promote the odd node unchanged: duplicating it (as Bitcoin does) gives [a,b,c] and [a,b,c,c]
    // the same root (CVE-2012-2459).
    if (level.length % 2 === 1) next.push(level[level.length - 1] as Uint8Array);
    levels.push(next);
    level = next;
  }
  return levels;
}

/**
 * Root of the tree over `leaves` (a single leaf is its own root). Throws RangeError on no leaves.
 * @example
 * const root = merkleRoot([triggerLeaf(0, a, 0), triggerLeaf(1, b, 1)]);
 */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  const levels = buildLevels(leaves);
  return (levels[levels.length - 1] as Uint8Array[])[0] as Uint8Array;
}

/**
 * Proofs for several indices, building the tree once. Throws RangeError on an index out of range.
 * @example
 * const [p0, p3] = merkleProofs(leaves, [0, 3]);
 */
export function merkleProofs(leaves: readonly Uint8Array[], indices: readonly number[]): MerkleProof[] {
  const levels = buildLevels(leaves);
  const leafCount = leaves.length;
  return indices.map((index) => {
    if (!Number.isInteger(index) || index < 0 || index >= leafCount) {
      throw new RangeError(`index ${index} out of range for ${leafCount} leaves`);
    }
    const siblings: string[] = [];
    let i = index;
    pathSteps(index, leafCount).forEach((step, depth) => {
      const level = levels[depth] as Uint8Array[];
      if (step !== "promoted") siblings.push(bytesToHex(level[step === "left" ? i + 1 : i - 1] as Uint8Array));
      i = Math.floor(i / 2);
    });
    return { index, leafCount, siblings };
  });
}

/**
 * Proof for one leaf; see {@link merkleProofs} to prove several without rebuilding the tree.
 * @example
 * const proof = merkleProof(leaves, 2); // { index: 2, leafCount: leaves.length, siblings: [...] }
 */
export function merkleProof(leaves: readonly Uint8Array[], index: number): MerkleProof {
  return merkleProofs(leaves, [index])[0] as MerkleProof;
}

/**
 * Checks `leaf` against `root`. Returns false, never throws, on any malformed input, since proofs
 * arrive from untrusted parties. The root does not commit to the leaf count, and some counts share a
 * path (index 2 of 3 and index 4 of 5 both hash as one right-hand sibling), so callers must check
 * `proof.leafCount` against the N in the certificate; triggerLeaf also binds the index into the leaf.
 * @example
 * verifyMerkleProof(merkleRoot(leaves), leaves[2], merkleProof(leaves, 2)); // true
 */
export function verifyMerkleProof(root: Uint8Array, leaf: Uint8Array, proof: MerkleProof): boolean {
  if (!(root instanceof Uint8Array) || root.length !== HASH_LEN) return false;
  if (!(leaf instanceof Uint8Array) || leaf.length !== HASH_LEN) return false;
  if (typeof proof !== "object" || proof === null) return false;
  const { index, leafCount, siblings } = proof;
  // Indices are u32 in triggerLeaf, so no honest tree has more than 2^32 leaves.
  if (!Number.isInteger(leafCount) || leafCount < 1 || leafCount > 2 ** 32) return false;
  if (!Number.isInteger(index) || index < 0 || index >= leafCount) return false;
  if (!Array.isArray(siblings)) return false;
  const steps = pathSteps(index, leafCount);
  // Extra or missing siblings mean the proof was built for a different tree shape.
  if (siblings.length !== steps.filter((s) => s !== "promoted").length) return false;
  let acc = leaf;
  let k = 0;
  for (const step of steps) {
    if (step === "promoted") continue;
    const hex: unknown = siblings[k++];
    if (typeof hex !== "string" || !SIBLING_HEX.test(hex)) return false;
    const sibling = hexToBytes(hex);
    acc = step === "left" ? node(acc, sibling) : node(sibling, acc);
  }
  return acc.every((b, j) => b === root[j]);
}
