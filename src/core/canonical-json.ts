import { sha256 } from "@noble/hashes/sha2.js";
import { toHex, utf8 } from "./digest/bytes.js";

/** JSON with object keys sorted at every level and no whitespace: one text per value, for hashing. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

/** SHA-256 (hex) of a value's canonical JSON. */
export function canonicalHash(value: unknown): string {
  return toHex(sha256(utf8(canonicalJson(value))));
}
