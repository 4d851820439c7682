import { expand, extract } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, u32le, utf8 } from "../digest/bytes.js";

/** Salt of the HKDF extract step: fixes provmark's domain for every derived secret. */
const SALT = utf8("provmark/hkdf/v1");
/** HKDF-Expand's maximum output for SHA-256 (255 blocks of 32 bytes). */
const BLOCK = 255 * 32;

/**
 * A deterministic byte stream derived from the seed for one purpose (`label`): block i is
 * HKDF-SHA256(ikm = seed, salt = "provmark/hkdf/v1", info = label ‖ 0x00 ‖ u32le(i), L = 8160).
 * Distinct labels give independent streams; the same seed and label give the same bytes on every
 * machine, which is what makes triggers and projections reproducible from the key alone.
 *
 * @example const s = new KeyStream(seed, "triggers/labels"); s.u32(); s.uniform();
 */
export class KeyStream {
  private readonly prk: Uint8Array;
  private readonly info: Uint8Array;
  private block: Uint8Array = new Uint8Array(0);
  private blockInfo: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private blockIndex = 0;

  constructor(seed: Uint8Array, label: string) {
    this.prk = extract(sha256, seed, SALT);
    this.info = concatBytes(utf8(label), new Uint8Array([0]));
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      if (this.pos === this.block.length) {
        if (this.block.length === BLOCK || this.block.length === 0) {
          // A new block: expanded lazily below, so a stream read for a few bytes costs a few HMACs.
          this.blockInfo = concatBytes(this.info, u32le(this.blockIndex++));
          this.block = new Uint8Array(0);
          this.pos = 0;
        }
        // HKDF-Expand's output for length L is a prefix of its output for any longer L, so growing the
        // block (doubling, up to the full 8160 bytes) yields the very bytes a full expansion would.
        const want = Math.min(BLOCK, Math.max(64, 2 * this.block.length, this.pos + (n - off)));
        this.block = expand(sha256, this.prk, this.blockInfo, want);
      }
      const take = Math.min(n - off, this.block.length - this.pos);
      out.set(this.block.subarray(this.pos, this.pos + take), off);
      this.pos += take;
      off += take;
    }
    return out;
  }

  u32(): number {
    const b = this.bytes(4);
    return ((b[0] as number) | ((b[1] as number) << 8) | ((b[2] as number) << 16) | ((b[3] as number) << 24)) >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n), by rejection so that no value is favoured (no modulo bias). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) throw new RangeError(`int(n) needs 1 <= n <= 2^32, got ${n}`);
    const limit = Math.floor(4294967296 / n) * n;
    for (;;) {
      const v = this.u32();
      if (v < limit) return v % n;
    }
  }

  /** Standard normal, by Box-Muller on two uniforms (the first kept away from 0). */
  gaussian(): number {
    const u1 = (this.u32() + 1) / 4294967297;
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

/** Commitment to the seed: SHA-256("provmark/key-commitment/v1\0" ‖ seed). Public; hides the seed. */
export function keyCommitment(seed: Uint8Array): Uint8Array {
  return sha256(concatBytes(utf8("provmark/key-commitment/v1\0"), seed));
}

/**
 * Hiding commitment to secret data derived from the seed: SHA-256(domain ‖ salt ‖ data), where the
 * salt is itself derived from the seed, so low-entropy data (a 64-bit message) cannot be guessed from
 * the commitment, and revealing the salt later opens it.
 */
export function secretCommitment(seed: Uint8Array, what: string, data: Uint8Array): Uint8Array {
  const salt = new KeyStream(seed, `commitment-salt/${what}`).bytes(32);
  return sha256(concatBytes(utf8(`provmark/commitment/${what}/v1\0`), salt, data));
}

/** The AES-256 key of private-artifact envelopes (src/store/envelope.ts), derived from the watermark seed. */
export function envelopeKey(seed: Uint8Array): Uint8Array {
  return new KeyStream(seed, "envelope/aes-256-gcm").bytes(32);
}

/**
 * The AES-256 key of the guard's DAWN watermark log (src/guard/dawn-log.ts), derived from the watermark
 * seed under its own label: a leaked log key opens neither envelopes nor the DAWN label PRF.
 */
export function dawnLogKey(seed: Uint8Array): Uint8Array {
  return new KeyStream(seed, "guard/dawn-log/aes-256-gcm").bytes(32);
}
