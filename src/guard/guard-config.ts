/** The guard's config file (guard.json): where keys and the audit log live, limits, defaults. */
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { parsePerPeriod } from "../core/guard/token-bucket.js";
import { jsonApiConfigSchema } from "../detect/adapters/json-config.js";
import { ProvmarkError } from "../errors.js";
import { readJsonValue } from "../watermark/read-json.js";
import { dawnSchema, monitorSchema } from "./defence-schema.js";
import { zodProblems } from "./keys-file.js";

const perPeriod = z.string().refine((s) => parsePerPeriod(s) !== undefined, {
  message: 'not a rate like "20/s", "100/min" or "10000/day"',
});
const ms = (min: number, max: number) => z.number().int().min(min).max(max);

/** Hardening limits shared by the guard and `provmark serve`; defaults in GUARD_LIMIT_DEFAULTS. */
export const limitsSchema = z.strictObject({
  maxBodyBytes: z
    .number()
    .int()
    .min(1)
    .max(1024 * 1024 * 1024)
    .optional(),
  maxConnections: z.number().int().min(1).max(100_000).optional(),
  headersTimeoutMs: ms(100, 600_000).optional(),
  bodyTimeoutMs: ms(100, 600_000).optional(),
  keepAliveTimeoutMs: ms(100, 600_000).optional(),
  maxRequestsPerSocket: z.number().int().min(0).max(1_000_000).optional(),
  upstreamTimeoutMs: ms(100, 600_000).optional(),
});
export type GuardLimits = { [K in keyof z.infer<typeof limitsSchema>]-?: number };

export const GUARD_LIMIT_DEFAULTS: GuardLimits = {
  maxBodyBytes: 20 * 1024 * 1024,
  maxConnections: 256,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxRequestsPerSocket: 1000,
  upstreamTimeoutMs: 30_000,
};

export const guardConfigSchema = z.strictObject({
  schema: z.literal("provmark/guard-config/v1"),
  /** false: no API keys (loopback only). */
  auth: z.boolean().default(true),
  /** Relative to the config file. */
  keysFile: z.string().min(1).optional(),
  auditLog: z.string().min(1).optional(),
  /**
   * false (default): the entry is queued and fsynced in the next group commit while the answer goes
   * out (a crash may lose the last few milliseconds' entries; once an append fails, the guard answers
   * nothing but 503 until restarted). true: an answer leaves only once its entry is on disk.
   */
  auditWaitForDisk: z.boolean().default(false),
  /** Limits for keys that set none. */
  defaults: z
    .strictObject({
      rate: perPeriod.optional(),
      burst: z.number().int().min(1).optional(),
      quota: perPeriod.optional(),
    })
    .default({}),
  limits: limitsSchema.default({}),
  /** --protocol json: the upstream's API, described as for `detect --protocol json`. */
  json: jsonApiConfigSchema.optional(),
  /** PRADA extraction monitoring per client (needs the input description: --key or --model). */
  monitor: monitorSchema.optional(),
  /** DAWN: a keyed fraction of answers altered and logged (needs the owner's --key). */
  dawn: dawnSchema.optional(),
});
export type GuardConfigFile = z.infer<typeof guardConfigSchema>;

export interface GuardConfig extends Omit<GuardConfigFile, "limits"> {
  limits: GuardLimits;
  /** Absolute paths. */
  keysPath?: string;
  auditPath?: string;
  /** The directory the config's relative paths are resolved against. */
  baseDir: string;
}

/** Validates a parsed config; every problem is listed. `base` resolves its relative paths. */
export function parseGuardConfig(raw: unknown, base: string, subject: string): GuardConfig {
  const parsed = guardConfigSchema.safeParse(raw);
  const problems = parsed.success ? [] : zodProblems(parsed.error);
  if (parsed.success && parsed.data.auth && parsed.data.keysFile === undefined) {
    problems.push('keysFile: needed while auth is on (or set "auth": false, loopback only)');
  }
  if (!parsed.success || problems.length > 0) {
    throw new ProvmarkError(
      "GUARD_CONFIG_INVALID",
      `${subject} is not a valid guard config:\n  ${problems.join("\n  ")}`,
      {
        subject,
        hints: ["The format, with an example, is in docs/guard.md."],
      },
    );
  }
  const c = parsed.data;
  return {
    ...c,
    limits: {
      ...GUARD_LIMIT_DEFAULTS,
      ...Object.fromEntries(Object.entries(c.limits).filter(([, v]) => v !== undefined)),
    },
    ...(c.keysFile === undefined ? {} : { keysPath: resolve(base, c.keysFile) }),
    ...(c.auditLog === undefined ? {} : { auditPath: resolve(base, c.auditLog) }),
    baseDir: resolve(base),
  };
}

export async function loadGuardConfig(path: string): Promise<GuardConfig> {
  const raw = await readJsonValue(path, "GUARD_CONFIG_INVALID");
  return parseGuardConfig(raw, dirname(resolve(path)), path);
}
