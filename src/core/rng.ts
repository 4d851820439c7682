import { sha256 } from "@noble/hashes/sha2.js";
import { utf8 } from "./digest/bytes.js";

/** A seeded pseudo-random source for shuffles and splits (not for secrets: those use HKDF). */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counting generator) seeded through SHA-256 of a label
 * and the seed, so differently labelled streams from one seed are independent and reproducible
 * on every platform.
 */
export function createRng(seed: number | string, label = ""): Rng {
  const h = sha256(utf8(`provmark/rng/v1\0${label}\0${String(seed)}`));
  const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
  let a = dv.getUint32(0, true);
  let b = dv.getUint32(4, true);
  let c = dv.getUint32(8, true);
  let d = dv.getUint32(12, true);
  const nextU32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) nextU32();
  return {
    next: () => nextU32() / 4294967296,
    int: (n: number) => Math.floor((nextU32() / 4294967296) * n),
  };
}

/** Fisher-Yates shuffle in place. */
export function shuffleInPlace<T>(arr: T[] | Uint32Array, rng: Rng): void {
  for (let i = arr.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = arr[i] as T;
    arr[i] = arr[j] as T & number;
    arr[j] = t as T & number;
  }
}

export function permutation(n: number, rng: Rng): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  shuffleInPlace(p, rng);
  return p;
}
