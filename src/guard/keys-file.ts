/**
 * The guard's API keys file: one record per client, holding only the SHA-256 of its key (the key
 * itself is shown once, at creation). Written atomically with mode 0600.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { parsePerPeriod } from "../core/guard/token-bucket.js";
import { ProvmarkError } from "../errors.js";
import { writeFileAtomic } from "../model/atomic-write.js";
import { readJsonValue } from "../watermark/read-json.js";

export const ROLES = ["client", "auditor", "admin"] as const;
export type Role = (typeof ROLES)[number];

const perPeriod = z.string().refine((s) => parsePerPeriod(s) !== undefined, {
  message: 'not a rate like "20/s", "100/min" or "10000/day"',
});

export const keyRecordSchema = z.strictObject({
  id: z.string().regex(/^k_[0-9a-f]{12}$/),
  name: z.string().min(1).max(200),
  role: z.enum(ROLES),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 hex digits"),
  createdAt: z.string(),
  revokedAt: z.string().optional(),
  rate: perPeriod.optional(),
  burst: z.number().int().min(1).optional(),
  quota: perPeriod.optional(),
});
export type KeyRecord = z.infer<typeof keyRecordSchema>;

export const keysFileSchema = z.strictObject({
  schema: z.literal("provmark/guard-keys/v1"),
  keys: z.array(keyRecordSchema),
});
export type KeysFile = z.infer<typeof keysFileSchema>;

/** Every problem of a parsed value, one line each (`keys[2].sha256: must be 64 hex digits`). */
export function zodProblems(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length === 0 ? "(top)" : i.path.map(String).join(".")}: ${i.message}`);
}

export const emptyKeysFile = (): KeysFile => ({ schema: "provmark/guard-keys/v1", keys: [] });

/** Reads and validates a keys file; every problem is listed in one KEYS_FILE_INVALID error. */
export async function readKeysFile(path: string): Promise<KeysFile> {
  const raw = await readJsonValue(path, "GUARD_KEYS_INVALID");
  const parsed = keysFileSchema.safeParse(raw);
  const problems = parsed.success ? [] : zodProblems(parsed.error);
  if (parsed.success) {
    const ids = parsed.data.keys.map((k) => k.id);
    for (const [i, id] of ids.entries()) if (ids.indexOf(id) !== i) problems.push(`keys.${i}.id: ${id} appears twice`);
  }
  if (!parsed.success || problems.length > 0) {
    throw new ProvmarkError(
      "GUARD_KEYS_INVALID",
      `${path} is not a valid guard keys file:\n  ${problems.join("\n  ")}`,
      {
        subject: path,
        hints: ["Create keys with `provmark guard keys add`; the file's format is in docs/guard.md."],
      },
    );
  }
  return parsed.data;
}

export async function writeKeysFile(path: string, file: KeysFile): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, 0o600);
}

/** A new random API key (256 bits) and its record's hash. */
export function newApiKey(): { key: string; sha256: string } {
  const key = `pmk_${randomBytes(32).toString("base64url")}`;
  return { key, sha256: hashKey(key) };
}

export const hashKey = (key: string): string => createHash("sha256").update(key, "utf8").digest("hex");

export const newKeyId = (): string => `k_${randomBytes(6).toString("hex")}`;

/**
 * The record whose hash is the presented key's (revoked ones included: the caller refuses them).
 * Every record is compared in constant time, so timing tells nothing of which hash came close.
 */
export function findKey(file: KeysFile, presented: string): KeyRecord | undefined {
  const h = Buffer.from(hashKey(presented), "hex");
  let found: KeyRecord | undefined;
  for (const k of file.keys) {
    if (timingSafeEqual(h, Buffer.from(k.sha256, "hex")) && found === undefined) found = k;
  }
  return found;
}
