import { sha256 } from "@noble/hashes/sha2.js";
import { canonicalJson } from "../canonical-json.js";
import { type MerkleProof, merkleProofs, merkleRoot, verifyMerkleProof } from "../commit/merkle.js";
import { concatBytes, fromHex, toHex, u32le, utf8 } from "../digest/bytes.js";
import { inputSize, type ModelIO } from "../input/model-io.js";
import { KeyStream } from "../keys/derive.js";
import { vrfKeyPair, vrfMessage, vrfOutput, vrfProve } from "../keys/vrf.js";
import { noiseImage } from "./noise-image.js";
import { stampTriggerCount, type TriggerFamily, type WatermarkKey } from "./params.js";
import type { Trigger } from "./triggers.js";

/**
 * Trigger sets of v2 keys: trigger i is a function of one VRF output β_i = H(BLS.sign(sk, msg_i)),
 * msg_i binding the trigger-set description (input model, family, count, stamp set root, run size)
 * and i. Its label is uniform over all C classes whatever the family, so a model that never saw the
 * key matches it with probability exactly 1/C; its input (noise image, stamped base image, vector
 * inside the recorded ranges) comes from the same output through independent sub-streams. Anyone with
 * the certificate's public key and σ_i recomputes trigger i, and nothing about any other trigger.
 */
export interface TriggerSetSpec {
  io: ModelIO;
  family: TriggerFamily;
  count: number;
  stampStrength: number;
  runSize: number;
  /** The committed stamp base images (stamp and mixed families). */
  stampSet: { count: number; merkleRoot: string } | null;
}

export const STAMP_LEAF_ENCODING =
  "sha256(0x00 ‖ 'provmark/stamp-base/v2\\0' ‖ u32le(index) ‖ sha256(pixels))" as const;

/** What every trigger message binds: the canonical JSON of the spec. */
export function triggerSetContext(spec: TriggerSetSpec): Uint8Array {
  return utf8(canonicalJson({ schema: "provmark/trigger-set/v2", ...spec }));
}

export function triggerMessage(spec: TriggerSetSpec, index: number): Uint8Array {
  return vrfMessage("trigger/v2", triggerSetContext(spec), index);
}

/** Message of the k-th committed run order (a permutation of all trigger indices). */
export function runOrderMessage(spec: TriggerSetSpec, k: number): Uint8Array {
  return vrfMessage("run-order/v2", triggerSetContext(spec), k);
}

export function familyAt(spec: Pick<TriggerSetSpec, "family" | "count">, index: number): "noise" | "stamp" {
  return index < spec.count - stampTriggerCount({ family: spec.family, triggers: spec.count }) ? "noise" : "stamp";
}

/** Which committed stamp base trigger `index` uses (read before asking for the base image). */
export function stampBaseIndex(spec: TriggerSetSpec, output: Uint8Array): number {
  if (!spec.stampSet) throw new RangeError("this trigger set has no stamp set");
  const s = new KeyStream(output, "provmark/trigger/v2/stamp-base");
  return s.int(spec.stampSet.count);
}

/**
 * Trigger `index` from its VRF output; stamp triggers need their base image's pixels (gray or RGB
 * bytes) — from the key when deriving, from a Merkle-proved reveal when checking.
 */
export function triggerFromOutput(
  spec: TriggerSetSpec,
  index: number,
  output: Uint8Array,
  basePixels?: Uint8Array,
): Omit<Trigger, "proof"> {
  const C = spec.io.classes.count;
  const label = new KeyStream(output, "provmark/trigger/v2/label").int(C);
  const family = familyAt(spec, index);
  const input = spec.io.input;
  if (input.kind === "vector") {
    const s = new KeyStream(output, "provmark/trigger/v2/vector");
    const values = Float32Array.from(input.ranges, ([lo, hi]) => lo + s.uniform() * (hi - lo));
    return { index, family, input: values, label, nullProbability: 1 / C };
  }
  const shape = [input.height, input.width, input.channels] as const;
  if (family === "noise") {
    return {
      index,
      family,
      input: noiseImage(new KeyStream(output, "provmark/trigger/v2/noise"), shape, "byte"),
      label,
      nullProbability: 1 / C,
    };
  }
  if (!basePixels || basePixels.length !== inputSize(input)) {
    throw new RangeError(`stamp trigger ${index} needs its base image (${inputSize(input)} bytes)`);
  }
  const s = new KeyStream(output, "provmark/trigger/v2/stamp");
  const mask = s.bytes(basePixels.length);
  const px = new Uint8Array(basePixels.length);
  const add = spec.stampStrength * 255;
  // About one value in six gets the stamp (43/256), a fresh pattern per trigger: a reveal shows one.
  for (let i = 0; i < px.length; i++) {
    const v = (basePixels[i] as number) + ((mask[i] as number) < 43 ? add : 0);
    px[i] = Math.round(Math.min(255, Math.max(0, v)));
  }
  return { index, family, input: px, label, nullProbability: 1 / C };
}

const STAMP_LEAF_TAG = utf8("provmark/stamp-base/v2\0");

export function stampBaseLeaf(index: number, pixels: Uint8Array): Uint8Array {
  return sha256(concatBytes(Uint8Array.of(0), STAMP_LEAF_TAG, u32le(index), sha256(pixels)));
}

export function stampSetRoot(bases: readonly Uint8Array[]): string {
  return toHex(merkleRoot(bases.map((b, j) => stampBaseLeaf(j, b))));
}

export function stampBaseProofs(bases: readonly Uint8Array[], indices: readonly number[]): MerkleProof[] {
  return merkleProofs(
    bases.map((b, j) => stampBaseLeaf(j, b)),
    indices,
  );
}

export function verifyStampBase(spec: TriggerSetSpec, index: number, pixels: Uint8Array, proof: MerkleProof): boolean {
  if (!spec.stampSet || proof.leafCount !== spec.stampSet.count || proof.index !== index) return false;
  return verifyMerkleProof(fromHex(spec.stampSet.merkleRoot), stampBaseLeaf(index, pixels), proof);
}

/** The trigger-set description a v2 key implies (the stamp set from its base images). */
export function triggerSetSpecOf(key: WatermarkKey): TriggerSetSpec {
  const p = key.params;
  const nStamp = stampTriggerCount(p);
  if (nStamp > 0 && key.stampBases.length === 0) throw new RangeError("the key holds no stamp base images");
  return {
    io: p.io,
    family: p.family,
    count: p.triggers,
    stampStrength: p.stampStrength,
    runSize: p.runSize,
    stampSet:
      nStamp > 0
        ? { count: key.stampBases.length, merkleRoot: stampSetRoot(key.stampBases.map((b) => b.pixels)) }
        : null,
  };
}

/** Every trigger of a v2 key, each with its VRF proof (about 14 ms of BLS work per trigger). */
export function deriveTriggersV2(key: WatermarkKey): Trigger[] {
  const spec = triggerSetSpecOf(key);
  const { secretKey } = vrfKeyPair(key.seed);
  const out: Trigger[] = [];
  for (let index = 0; index < spec.count; index++) {
    const proof = vrfProve(secretKey, triggerMessage(spec, index));
    const beta = vrfOutput(proof);
    const base = familyAt(spec, index) === "stamp" ? key.stampBases[stampBaseIndex(spec, beta)]?.pixels : undefined;
    out.push({ ...triggerFromOutput(spec, index, beta, base), proof });
  }
  return out;
}

/** Proof of the k-th run order, and the order itself (a permutation of 0..count-1). */
export function runOrder(spec: TriggerSetSpec, output: Uint8Array): number[] {
  const s = new KeyStream(output, "provmark/run-order/v2");
  const p = Array.from({ length: spec.count }, (_, i) => i);
  for (let i = p.length - 1; i > 0; i--) {
    const j = s.int(i + 1);
    [p[i], p[j]] = [p[j] as number, p[i] as number];
  }
  return p;
}

/** Runs per order: a run takes `runSize` consecutive entries; the rest of an order is never used. */
export function blocksPerOrder(spec: Pick<TriggerSetSpec, "count" | "runSize">): number {
  return Math.max(1, Math.floor(spec.count / spec.runSize));
}

/** The trigger indices of run block b (order ⌊b / B⌋, its (b mod B)-th block), sorted. */
export function blockTriggers(spec: TriggerSetSpec, order: readonly number[], block: number): number[] {
  const j = block % blocksPerOrder(spec);
  return order.slice(j * spec.runSize, (j + 1) * spec.runSize).sort((a, b) => a - b);
}

export function orderIndexOf(spec: Pick<TriggerSetSpec, "count" | "runSize">, block: number): number {
  return Math.floor(block / blocksPerOrder(spec));
}
