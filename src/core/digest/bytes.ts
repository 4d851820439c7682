/** Small byte helpers for canonical encodings (little-endian, length-prefixed). */

const encoder = new TextEncoder();

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

export function u32le(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

export function u64le(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

/** A length-prefixed (u32 LE) UTF-8 string, so concatenations cannot be ambiguous. */
export function lp(s: string): Uint8Array {
  const body = utf8(s);
  return concatBytes(u32le(body.length), body);
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export { bytesToHex as toHex, hexToBytes as fromHex } from "@noble/hashes/utils.js";

/** Byte-wise (UTF-8) comparison, the order `LC_ALL=C sort` uses; stable across locales and runtimes. */
export function compareUtf8(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = (x[i] as number) - (y[i] as number);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}
