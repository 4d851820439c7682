import { describe, expect, it } from "vitest";
import { toHex } from "../../../src/core/digest/bytes.js";
import { vrfKeyPair, vrfMessage, vrfOutput, vrfProve, vrfVerify } from "../../../src/core/keys/vrf.js";

const seed = new Uint8Array(32).map((_, i) => i);
const ctx = new TextEncoder().encode("certificate context");

describe("BLS VRF", () => {
  const { secretKey, publicKey } = vrfKeyPair(seed);

  it("derives the same key pair from the same seed, another from another seed", () => {
    expect(toHex(vrfKeyPair(seed).publicKey)).toBe(toHex(publicKey));
    expect(publicKey).toHaveLength(48);
    expect(toHex(vrfKeyPair(new Uint8Array(32)).publicKey)).not.toBe(toHex(publicKey));
  });

  it("a proof verifies to its output; the output is a function of key and message only", () => {
    const m = vrfMessage("trigger/v2", ctx, 7);
    const proof = vrfProve(secretKey, m);
    expect(proof).toHaveLength(96);
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
    tampered[50] = (tampered[50] as number) ^ 1;
    expect(vrfVerify(publicKey, m, tampered)).toBeUndefined();
    expect(vrfVerify(publicKey, m, proof.subarray(0, 95))).toBeUndefined();
    // The framing attack's shape: an owner who wants a chosen output must find a proof for it; a
    // signature by another key over the same message is not one.
    const other = vrfKeyPair(new Uint8Array(32).fill(9));
    expect(vrfVerify(publicKey, m, vrfProve(other.secretKey, m))).toBeUndefined();
  });
});
