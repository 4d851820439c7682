import { pippenger } from "@noble/curves/abstract/curve.js";
import { bls12_381 } from "@noble/curves/bls12-381.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, toHex, u32le, utf8 } from "../digest/bytes.js";
import { KeyStream } from "./derive.js";

/**
 * A verifiable random function from BLS signatures (unique: one valid signature per key and message),
 * so that anyone holding the public key can check that a trigger's bytes and label are the only ones
 * the key committed at release could give. Short signatures: public keys in G2 (96 bytes), proofs in
 * G1 (48 bytes), which proves ~5× faster than the other way round; the IETF BLS signature suite's
 * hash-to-curve domain. See docs/watermark.md ("Triggers derived by a VRF").
 */
export const VRF_SCHEME = "bls12-381-min-sig/BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_/sha256" as const;

const bls = bls12_381.shortSignatures;
const G1 = bls12_381.G1.Point;
const G2 = bls12_381.G2.Point;

export const VRF_PUBLIC_KEY_BYTES = 96;
export const VRF_PROOF_BYTES = 48;

export interface VrfKeyPair {
  secretKey: Uint8Array;
  /** Compressed G2 point, 96 bytes; goes into the certificate. */
  publicKey: Uint8Array;
}

/** The key's VRF key pair, derived from the watermark seed (same seed, same keys everywhere). */
export function vrfKeyPair(seed: Uint8Array): VrfKeyPair {
  const { secretKey, publicKey } = bls.keygen(new KeyStream(seed, "vrf/bls12-381/keygen").bytes(48));
  return { secretKey, publicKey: publicKey.toBytes(true) };
}

/** The message for one VRF input: a domain tag, a context (what it is bound to) and an index. */
export function vrfMessage(domain: string, context: Uint8Array, index: number): Uint8Array {
  return concatBytes(utf8(`provmark/vrf/${domain}\0`), sha256(context), u32le(index));
}

/** The proof for one message: the BLS signature, compressed (48 bytes). */
export function vrfProve(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return bls.Signature.toBytes(bls.sign(bls.hash(message), secretKey));
}

/** The VRF output of a proof: 32 bytes, SHA-256 of the signature under provmark's domain. */
export function vrfOutput(proof: Uint8Array): Uint8Array {
  return sha256(concatBytes(utf8("provmark/vrf-output/v2\0"), proof));
}

/**
 * Checks a proof against the public key and message, returning the output when valid and undefined
 * otherwise (a malformed point, a signature of another message or key).
 */
export function vrfVerify(publicKey: Uint8Array, message: Uint8Array, proof: Uint8Array): Uint8Array | undefined {
  try {
    if (proof.length !== VRF_PROOF_BYTES || publicKey.length !== VRF_PUBLIC_KEY_BYTES) return undefined;
    return bls.verify(proof, bls.hash(message), publicKey) ? vrfOutput(proof) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks many proofs under one public key at the cost of two pairings: e(Σ rᵢσᵢ, g₂) = e(Σ rᵢH(mᵢ), pk)
 * with 128-bit coefficients rᵢ hashed from every input (so a forger cannot pick proofs whose errors
 * cancel: that needs the hash's output in advance). A false "valid" has probability about 2⁻¹²⁸ per
 * attempt. Returns each output when all proofs are valid, undefined when any is not (use vrfVerify on
 * each to find which).
 */
export function vrfVerifyBatch(
  publicKey: Uint8Array,
  items: readonly { message: Uint8Array; proof: Uint8Array }[],
): Uint8Array[] | undefined {
  if (items.length === 0) return [];
  if (items.length === 1) {
    const [only] = items as [{ message: Uint8Array; proof: Uint8Array }];
    const one = vrfVerify(publicKey, only.message, only.proof);
    return one ? [one] : undefined;
  }
  try {
    if (publicKey.length !== VRF_PUBLIC_KEY_BYTES) return undefined;
    if (items.some((it) => it.proof.length !== VRF_PROOF_BYTES)) return undefined;
    const pk = G2.fromBytes(publicKey);
    pk.assertValidity();
    if (pk.is0()) return undefined;
    const sigs = items.map((it) => {
      const p = G1.fromBytes(it.proof);
      p.assertValidity();
      return p;
    });
    if (sigs.some((s) => s.is0())) return undefined;
    const hashes = items.map((it) => bls.hash(it.message));
    const transcript = sha256(
      concatBytes(utf8("provmark/vrf-batch/v2\0"), publicKey, ...items.flatMap((it) => [sha256(it.message), it.proof])),
    );
    const coeffs = items.map((_, i) => {
      const h = sha256(concatBytes(transcript, u32le(i))).subarray(0, 16);
      return BigInt(`0x${toHex(h)}`) | 1n;
    });
    const sigSum = pippenger(G1, sigs, coeffs);
    const msgSum = pippenger(G1, hashes, coeffs);
    if (sigSum.is0() || msgSum.is0()) return undefined;
    const gt = bls12_381.pairingBatch([
      { g1: sigSum, g2: G2.BASE.negate() },
      { g1: msgSum, g2: pk },
    ]);
    if (!bls12_381.fields.Fp12.eql(gt, bls12_381.fields.Fp12.ONE)) return undefined;
    return items.map((it) => vrfOutput(it.proof));
  } catch {
    return undefined;
  }
}
