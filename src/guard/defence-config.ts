/** The guard config's `monitor` (PRADA) and `dawn` sections, and opening the defence they describe. */
import { resolve } from "node:path";
import { toHex } from "../core/digest/bytes.js";
import type { ModelIO } from "../core/input/model-io.js";
import { keyCommitment } from "../core/keys/derive.js";
import { ProvmarkError } from "../errors.js";
import { openDawnLogWriter } from "./dawn-log.js";
import type { DawnConfig, MonitorConfig } from "./defence-schema.js";
import { createExtractionDefence, type ExtractionDefence } from "./extraction-defence.js";

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
  c: { monitor?: MonitorConfig | undefined; dawn?: DawnConfig | undefined; baseDir: string },
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
    dawnLog = resolve(c.baseDir, c.dawn.log);
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
