import { ProvmarkError } from "../../errors.js";

/**
 * A SHA-256 digest typed by a user (64 hex digits, any case, with or without 0x) as lower-case hex
 * without 0x; a USAGE error naming `what` (the flag or argument) otherwise.
 */
export function parseDigest(text: string, what = "digest"): string {
  const h = text.trim().toLowerCase().replace(/^0x/, "");
  if (!/^[0-9a-f]{64}$/.test(h)) {
    throw new ProvmarkError("USAGE", `${what} must be 64 hex digits (a SHA-256), got ${JSON.stringify(text)}`, {
      subject: what,
      hints: ["`provmark hash <dir>` prints a model's files digest."],
    });
  }
  return h;
}

/** The same digest as a 0x-prefixed bytes32, as contracts take it. */
export const toBytes32 = (text: string, what = "digest") => `0x${parseDigest(text, what)}`;
