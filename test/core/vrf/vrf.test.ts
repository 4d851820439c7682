import { bls12_381 } from "@noble/curves/bls12-381.js";
import { describe, expect, it } from "vitest";
import { toHex } from "../../../src/core/digest/bytes.js";
import {
  VRF_PROOF_BYTES,
  VRF_PUBLIC_KEY_BYTES,
  vrfKeyPair,
  vrfMessage,
  vrfOutput,
  vrfProve,
  vrfVerify,
  vrfVerifyBatch,
} from "../../../src/core/keys/vrf.js";

const seed = new Uint8Array(32).map((_, i) => i);
const ctx = new TextEncoder().encode("certificate context");

describe("BLS VRF", () => {
  const { secretKey, publicKey } = vrfKeyPair(seed);

  it("derives the same key pair from the same seed, another from another seed", () => {
    expect(toHex(vrfKeyPair(seed).publicKey)).toBe(toHex(publicKey));
    expect(publicKey).toHaveLength(VRF_PUBLIC_KEY_BYTES);
    expect(toHex(vrfKeyPair(new Uint8Array(32)).publicKey)).not.toBe(toHex(publicKey));
  });

  it("a proof verifies to its output; the output is a function of key and message only", () => {
    const m = vrfMessage("trigger/v2", ctx, 7);
    const proof = vrfProve(secretKey, m);
    expect(proof).toHaveLength(VRF_PROOF_BYTES);
    expect(toHex(vrfProve(secretKey, m))).toBe(toHex(proof));
    expect(toHex(vrfVerify(publicKey, m, proof) ?? new Uint8Array())).toBe(toHex(vrfOutput(proof)));
  });

  it("rejects a proof for another index, another context, another key, and a tampered or truncated proof", () => {
    const m = vrfMessage("trigger/v2", ctx, 7);
    const proof = vrfProve(secretKey, m);
    expect(vrfVerify(publicKey, vrfMessage("trigger/v2", ctx, 8), proof)).toBeUndefined();
    expect(vrfVerify(publicKey, vrfMessage("trigger/v2", new Uint8Array([1]), 7), proof)).toBeUndefined();
    expect(vrfVerify(vrfKeyPair(new Uint8Array(32)).publicKey, m, proof)).toBeUndefined();
    const tampered = proof.slice();
    tampered[20] = (tampered[20] as number) ^ 1;
    expect(vrfVerify(publicKey, m, tampered)).toBeUndefined();
    expect(vrfVerify(publicKey, m, proof.subarray(0, VRF_PROOF_BYTES - 1))).toBeUndefined();
    // The framing attack's shape: an owner who wants a chosen output must find a proof for it; a
    // signature by another key over the same message is not one.
    const other = vrfKeyPair(new Uint8Array(32).fill(9));
    expect(vrfVerify(publicKey, m, vrfProve(other.secretKey, m))).toBeUndefined();
  });

  describe("batch verification", () => {
    const items = Array.from({ length: 6 }, (_, i) => {
      const message = vrfMessage("trigger/v2", ctx, i);
      return { message, proof: vrfProve(secretKey, message) };
    });

    it("accepts valid proofs and returns each output", () => {
      const out = vrfVerifyBatch(publicKey, items);
      expect(out?.map(toHex)).toEqual(items.map((it) => toHex(vrfOutput(it.proof))));
    });

    it("rejects one wrong proof among valid ones, swapped proofs, and proofs whose errors cancel", () => {
      const wrong = items.map((it, i) =>
        i === 3 ? { ...it, proof: vrfProve(secretKey, vrfMessage("x", ctx, 3)) } : it,
      );
      expect(vrfVerifyBatch(publicKey, wrong)).toBeUndefined();
      const swapped = items.map((it, i) => ({
        message: it.message,
        proof: (items[i === 0 ? 1 : i === 1 ? 0 : i] as typeof it).proof,
      }));
      expect(vrfVerifyBatch(publicKey, swapped)).toBeUndefined();
      // σ₀ + D and σ₁ − D: the plain sum of signatures still verifies (an aggregate check would pass);
      // the per-item coefficients must not.
      const bls = bls12_381;
      const G1 = bls.G1.Point;
      const D = G1.BASE.multiply(12345n);
      const s0 = G1.fromBytes((items[0] as (typeof items)[0]).proof).add(D);
      const s1 = G1.fromBytes((items[1] as (typeof items)[0]).proof).subtract(D);
      const cancelled = items.map((it, i) =>
        i === 0 ? { ...it, proof: s0.toBytes(true) } : i === 1 ? { ...it, proof: s1.toBytes(true) } : it,
      );
      const plainSum = bls.shortSignatures.aggregateSignatures(cancelled.map((c) => c.proof));
      const realSum = bls.shortSignatures.aggregateSignatures(items.map((c) => c.proof));
      expect(plainSum.equals(realSum)).toBe(true);
      expect(vrfVerifyBatch(publicKey, cancelled)).toBeUndefined();
    });

    it("rejects another key and malformed proofs", () => {
      expect(vrfVerifyBatch(vrfKeyPair(new Uint8Array(32)).publicKey, items)).toBeUndefined();
      const bad = items.map((it, i) => (i === 2 ? { ...it, proof: new Uint8Array(VRF_PROOF_BYTES) } : it));
      expect(vrfVerifyBatch(publicKey, bad)).toBeUndefined();
      expect(vrfVerifyBatch(publicKey, [])).toEqual([]);
    });
  });
});
