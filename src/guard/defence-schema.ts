/** The guard config's `monitor` (PRADA) and `dawn` (DAWN answers) sections. */
import { z } from "zod";
import { PRADA_DEFAULT_DELTA } from "../core/guard/prada.js";

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
