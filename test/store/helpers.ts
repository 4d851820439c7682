import { createCipheriv, createHash } from "node:crypto";
import { expect } from "vitest";
import { type ErrorCode, ProvmarkError } from "../../src/errors.js";

/** Reproducible pseudo-random bytes: the AES-128-CTR keystream under a key derived from `seed`. */
export function seededBytes(length: number, seed: string): Uint8Array {
  const key = createHash("sha256").update(`provmark/test/${seed}`).digest().subarray(0, 16);
  return createCipheriv("aes-128-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

/** Awaits a rejection and checks it is a ProvmarkError with `code`; returns it for further checks. */
export async function rejection(promise: Promise<unknown>, code: ErrorCode): Promise<ProvmarkError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected ${code}, but it resolved`);
  expect(outcome.error).toBeInstanceOf(ProvmarkError);
  expect((outcome.error as ProvmarkError).code).toBe(code);
  return outcome.error as ProvmarkError;
}
