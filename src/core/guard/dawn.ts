import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { ProvmarkError } from "../../errors.js";
import { concatBytes, lp, u32le, utf8 } from "../digest/bytes.js";
import { KeyStream } from "../keys/derive.js";

export { ROBUST_HASH_DEFAULTS, type RobustHashOptions, robustInputHash } from "./robust-hash.js";

/**
 * DAWN (Szyller, Atli, Marchal, Asokan: "DAWN: Dynamic Adversarial Watermarking of Neural Networks",
 * ACM MM 2021): the API answers a keyed fraction r of each client's queries with a wrong label, and
 * logs them; a model extracted through the API learns those answers, and a model that was not does not.
 *
 * Why detection is sound. The decision for (client, input hash) is HMAC-SHA256 under a key the owner
 * never discloses. For any model whose answers do not depend on the key (trained without the altered
 * answers), the altered label L is, from that model's point of view, uniform over the C − 1 classes
 * other than the served one and independent of everything it saw: so whatever it answers, P(answer =
 * L) ≤ max over classes of P(L = class) = 1/(C − 1) per query (HMAC being a PRF; the served label is
 * excluded, which is why the bound is 1/(C − 1) and not 1/C, and why a model that simply agrees with
 * the victim scores 0). Over n logged queries with distinct hashes the matches are then dominated by
 * Binomial(n, 1/(C − 1)), the null of `detect --dawn-log`'s exact binomial test. Inputs sharing a hash
 * share one decision, so the count uses distinct hashes only.
 *
 * Bits: 53 bits of the HMAC's bytes 0..6 give u = bits / 2^53, uniform in [0, 1), and the query is
 * altered when u < r; the remaining 24 bytes are six 32-bit candidates for the label, each accepted
 * below the largest multiple of C − 1 (rejection sampling, so no label is favoured), continued with
 * HMAC(key, message ‖ u32le(i)) in the (≤ 1e-30) case all six are rejected. Selection and label come
 * from disjoint output bits, so they are independent.
 */

export const DAWN_DOMAIN = "provmark/dawn/v1";

export type DawnDecision = { altered: false } | { altered: true; label: number };

/** The DAWN HMAC key, derived from the owner's watermark seed (HKDF-SHA256, label "dawn/hmac-sha256"). */
export function deriveDawnKey(seed: Uint8Array): Uint8Array {
  return new KeyStream(seed, "dawn/hmac-sha256").bytes(32);
}

/** The HMAC message: domain ‖ 0x00 ‖ u32le(len) client id ‖ u32le(len) input hash. */
export function dawnMessage(clientId: string, inputHash: Uint8Array): Uint8Array {
  return concatBytes(utf8(DAWN_DOMAIN), new Uint8Array([0]), lp(clientId), u32le(inputHash.length), inputHash);
}

/**
 * Whether to alter the answer to this client's query, and to which label: deterministic in
 * (key, client, hash), altered with probability `rate`, the label uniform over the classes ≠ served.
 *
 * @example dawnDecision(key, "alice", robustInputHash(x, io.input), 0.005, 10, 7) // { altered: false }
 */
export function dawnDecision(
  key: Uint8Array,
  clientId: string,
  inputHash: Uint8Array,
  rate: number,
  classes: number,
  servedLabel: number,
): DawnDecision {
  const bad: string[] = [];
  if (key.length < 16) bad.push("the key must have at least 16 bytes");
  if (!(rate >= 0 && rate <= 1)) bad.push(`rate ${rate} is not in [0, 1]`);
  if (!Number.isInteger(classes) || classes < 2 || classes > 2 ** 31) bad.push(`classes ${classes} is not ≥ 2`);
  if (!Number.isInteger(servedLabel) || servedLabel < 0 || servedLabel >= classes) {
    bad.push(`served label ${servedLabel} is not a class index below ${classes}`);
  }
  if (bad.length > 0) throw new ProvmarkError("USAGE", `DAWN decision: ${bad.join("; ")}`);
  const msg = dawnMessage(clientId, inputHash);
  const mac = hmac(sha256, key, msg);
  const dv = new DataView(mac.buffer, mac.byteOffset, mac.byteLength);
  // 53 bits: the 32 of bytes 0..3 and the top 21 of bytes 3..6's next word.
  const u = (dv.getUint32(0) * 2 ** 21 + (dv.getUint32(3) & 0x1fffff)) / 2 ** 53;
  if (!(u < rate)) return { altered: false };
  const others = classes - 1;
  const limit = Math.floor(2 ** 32 / others) * others;
  let words = dv;
  let first = 8;
  for (let block = 1; ; block++) {
    for (let off = first; off + 4 <= words.byteLength; off += 4) {
      const v = words.getUint32(off);
      if (v < limit) {
        const k = v % others;
        return { altered: true, label: k < servedLabel ? k : k + 1 };
      }
    }
    const more = hmac(sha256, key, concatBytes(msg, u32le(block)));
    words = new DataView(more.buffer, more.byteOffset, more.byteLength);
    first = 0;
  }
}

export interface RewrittenAnswer {
  label: number;
  /** The class scores with servedLabel's and newLabel's swapped; absent for labels-only answers. */
  scores?: number[];
}

/**
 * The altered answer: a labels-only answer becomes `newLabel`; a score vector swaps the scores of the
 * served and the new label, so the new label gets the served (top) score, the vector keeps its
 * multiset of values (still a distribution if it was one), and no other class moves.
 */
export function rewriteAnswer(
  scores: readonly number[] | undefined,
  servedLabel: number,
  newLabel: number,
): RewrittenAnswer {
  if (scores === undefined) return { label: newLabel };
  if (
    !(servedLabel in scores) ||
    !(newLabel in scores) ||
    !Number.isInteger(servedLabel) ||
    !Number.isInteger(newLabel)
  ) {
    throw new ProvmarkError("USAGE", `cannot swap classes ${servedLabel} and ${newLabel} of ${scores.length} scores`);
  }
  const out = [...scores];
  out[newLabel] = scores[servedLabel] as number;
  out[servedLabel] = scores[newLabel] as number;
  return { label: newLabel, scores: out };
}
