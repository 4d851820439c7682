/** The guard config's `monitor` (PRADA) and `dawn` sections, and opening the defence they describe. */
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { toHex } from "../core/digest/bytes.js";
import { PRADA_DEFAULT_DELTA } from "../core/guard/prada.js";
import type { ModelIO } from "../core/input/model-io.js";
import { keyCommitment } from "../core/keys/derive.js";
import { ProvmarkError } from "../errors.js";
import { openDawnLogWriter } from "./dawn-log.js";
import { createExtractionDefence, type ExtractionDefence } from "./extraction-defence.js";

export const monitorSchema = z.strictObject({
  /** Alert while the Shapiro-Wilk W of a client's query distances is below δ. */
  delta: z.number().gt(0).max(1).default(PRADA_DEFAULT_DELTA),
  action: z.enum(["log", "throttle", "block"]).default("log"),
  /** throttle: added to every later request of an alerted client. */
  throttleMs: z.number().int().min(0).max(60_000).default(2_000),
  webhook: z
    .string()
    .url()
    .refine((u) => /^https?:/i.test(u), { message: "must be an http(s) URL" })
    .optional(),
  minDistances: z.number().int().min(2).max(4_999).optional(),
  every: z.number().int().min(1).max(10_000).optional(),
  maxRowsPerClient: z.number().int().min(1).max(1_000_000).optional(),
});
export type MonitorConfig = z.infer<typeof monitorSchema>;

export const dawnSchema = z.strictObject({
  /** The fraction of each client's distinct inputs answered with a wrong label. */
  rate: z.number().gt(0).max(0.5).default(0.005),
  /** The encrypted watermark log, relative to the config file. */
  log: z.string().min(1),
});
export type DawnConfig = z.infer<typeof dawnSchema>;

export interface OpenedDefence {
  defence: ExtractionDefence;
  /** Absolute path of the DAWN log, when DAWN is on. */
  dawnLog: string | null;
  close(): Promise<void>;
}

/**
 * The extraction defence a config asks for, or undefined when it asks for none. Both parts read the
 * queries as model-space rows, so they need the model's input description; DAWN also needs the
 * owner's key file (its HMAC key and the log's encryption key derive from the seed).
 */
export async function openDefence(
  c: { monitor?: MonitorConfig | undefined; dawn?: DawnConfig | undefined; configPath: string },
  o: { io?: ModelIO | undefined; seed?: Uint8Array | undefined; warn?: (line: string) => void },
): Promise<OpenedDefence | undefined> {
  if (c.monitor === undefined && c.dawn === undefined) return undefined;
  const what = [c.monitor ? "monitor" : null, c.dawn ? "dawn" : null].filter(Boolean).join(" and ");
  if (o.io === undefined) {
    throw new ProvmarkError("USAGE", `the guard config turns on ${what}, which needs the model's input description`, {
      subject: "--key",
      hints: ["Pass --key <key file> (it records the input description), or --model <dir> for the monitor alone."],
    });
  }
  let dawn: Parameters<typeof createExtractionDefence>[0]["dawn"];
  let dawnLog: string | null = null;
  if (c.dawn !== undefined) {
    if (o.seed === undefined) {
      throw new ProvmarkError("USAGE", "the guard config turns on dawn, which needs the owner's key file", {
        subject: "--key",
        hints: ["Pass --key <key file> (passphrase from $PROVMARK_PASSPHRASE): DAWN's keys derive from it."],
      });
    }
    dawnLog = resolve(dirname(c.configPath), c.dawn.log);
    const log = await openDawnLogWriter(dawnLog, o.seed, {
      modelIO: o.io,
      rate: c.dawn.rate,
      keyCommitment: toHex(keyCommitment(o.seed)),
    });
    dawn = { rate: c.dawn.rate, seed: o.seed, log };
  }
  const m = c.monitor;
  const defence = createExtractionDefence({
    io: o.io,
    ...(m === undefined
      ? {}
      : {
          monitor: {
            delta: m.delta,
            action: m.action,
            throttleMs: m.throttleMs,
            ...(m.webhook === undefined ? {} : { webhook: m.webhook }),
            ...(m.minDistances === undefined ? {} : { minDistances: m.minDistances }),
            ...(m.every === undefined ? {} : { every: m.every }),
            ...(m.maxRowsPerClient === undefined ? {} : { maxRowsPerClient: m.maxRowsPerClient }),
          },
        }),
    ...(dawn === undefined ? {} : { dawn }),
    ...(o.warn === undefined ? {} : { warn: o.warn }),
  });
  return {
    defence,
    dawnLog,
    close: async () => {
      await defence.flush();
      await dawn?.log.close();
    },
  };
}
