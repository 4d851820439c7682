import { sha256 } from "@noble/hashes/sha2.js";
import { canonicalHash } from "../canonical-json.js";
import { concatBytes, fromHex, toHex, utf8 } from "../digest/bytes.js";

/**
 * Detection plans anchored on chain (`detect --anchor`): each plan goes in the registry's batch
 * anchor as a one-record batch before its first query, so its time is the block's and it cannot be
 * hidden later. The root is domain-separated from version batches; the label names the certificate
 * and the suspect (hashed), so a verifier can find every anchored run against them, not only the
 * ones a report admits to.
 */
export const PLAN_ANCHOR_PREFIX = "provmark-plan/v2";

export function planAnchorRoot(planHash: string): string {
  return `0x${toHex(sha256(concatBytes(utf8("provmark/plan-anchor/v2\0"), fromHex(planHash))))}`;
}

/** SHA-256 of the suspect as a plan names it: protocol, target and model name. */
export function suspectHash(s: { protocol: string; target: string; modelName: string | null }): string {
  return canonicalHash({ protocol: s.protocol, target: s.target, modelName: s.modelName });
}

/** The anchor's label: `provmark-plan/v2:<certificate hash>:<suspect hash>:<plan hash>`. */
export function planAnchorLabel(certificateHash: string, suspect: string, planHash: string): string {
  return `${PLAN_ANCHOR_PREFIX}:${certificateHash}:${suspect}:${planHash}`;
}

export function parsePlanAnchorLabel(
  label: string,
): { certificateHash: string; suspect: string; planHash: string } | null {
  const m = /^provmark-plan\/v2:([0-9a-f]{64}):([0-9a-f]{64}):([0-9a-f]{64})$/.exec(label);
  return m ? { certificateHash: m[1] as string, suspect: m[2] as string, planHash: m[3] as string } : null;
}
