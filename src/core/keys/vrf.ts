import { bls12_381 } from "@noble/curves/bls12-381.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, u32le, utf8 } from "../digest/bytes.js";
import { KeyStream } from "./derive.js";

/**
 * A verifiable random function from BLS signatures (unique: one valid signature per key and message),
 * so that anyone holding the public key can check that a trigger's bytes and label are the only ones
 * the key committed at release could give. Public keys in G1 (48 bytes), signatures in G2 (96 bytes),
 * the IETF BLS signature suite's hash-to-curve domain. See docs/design/certificate-v2.md.
 */
export const VRF_SCHEME = "bls12-381-min-pk/BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_/sha256" as const;

const bls = bls12_381.longSignatures;

export interface VrfKeyPair {
  secretKey: Uint8Array;
  /** Compressed G1 point, 48 bytes; goes into the certificate. */
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

/** The proof for one message: the BLS signature, compressed (96 bytes). */
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
    if (proof.length !== 96 || publicKey.length !== 48) return undefined;
    return bls.verify(proof, bls.hash(message), publicKey) ? vrfOutput(proof) : undefined;
  } catch {
    return undefined;
  }
}
