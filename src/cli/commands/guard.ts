import type { ModelIO } from "../../core/input/model-io.js";
import { backendChoice } from "../../model/backend.js";
import type { GlobalOptions } from "../program.js";
import { type ModelIOFlags, modelIOOverrides } from "./model-io-flags.js";

export interface GuardFlags extends ModelIOFlags {
  upstream: string;
  protocol: "tfserving" | "kserve" | "json" | "raw";
  config: string;
  host: string;
  port: number;
  /** A model directory whose input description decodes encoded images for the hooks. */
  model?: string;
  /** A watermark key file: its recorded input description (keys v2) decodes encoded images. */
  key?: string;
  modelName?: string;
  json?: boolean;
  verbose?: boolean;
}

/** Waits for SIGINT or SIGTERM. */
export function untilSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

export const stderrLine = (line: string) => process.stderr.write(`${line}\n`);

/** The owner's key file (passphrase from $PROVMARK_PASSPHRASE or the prompt): its input description and seed. */
export async function readOwnerKey(path: string): Promise<{ io: ModelIO; seed: Uint8Array }> {
  const { readKeyFile } = await import("../../watermark/key-file.js");
  const { getPassphrase } = await import("../../watermark/passphrase.js");
  const key = await readKeyFile(path, await getPassphrase());
  return { io: key.params.io, seed: key.seed };
}

function predictUrl(base: string, protocol: GuardFlags["protocol"], name: string): string {
  const n = encodeURIComponent(name);
  if (protocol === "kserve") return `${base}/v2/models/${n}/infer`;
  if (protocol === "raw") return `${base}/v1/models/${n}:classify`;
  return `${base}/v1/models/${n}:predict`;
}

/** Runs the guard in front of --upstream until SIGINT or SIGTERM. */
export async function guard(flags: GuardFlags, globals: GlobalOptions): Promise<void> {
  const { loadGuardConfig } = await import("../../guard/guard-config.js");
  const { startGuard } = await import("../../guard/guard-server.js");
  const config = await loadGuardConfig(flags.config);
  let io: ModelIO | undefined;
  let seed: Uint8Array | undefined;
  if (flags.key !== undefined) {
    ({ io, seed } = await readOwnerKey(flags.key));
  } else if (flags.model !== undefined) {
    const { inferModelIO } = await import("../../model/infer-io.js");
    io = (await inferModelIO(flags.model, modelIOOverrides(flags), { backend: backendChoice(globals.backend) })).io;
  }
  const { openDefence } = await import("../../guard/defence-config.js");
  const defence = await openDefence(config, { io, seed, warn: stderrLine });
  let server: import("../../guard/guard-server.js").GuardServer;
  try {
    server = await startGuard({
      upstream: flags.upstream,
      protocol: flags.protocol,
      config,
      host: flags.host,
      port: flags.port,
      ...(io === undefined ? {} : { io }),
      ...(defence === undefined ? {} : { hooks: defence.defence }),
      warn: stderrLine,
      ...(flags.verbose ? { log: stderrLine } : {}),
    });
  } catch (e) {
    await defence?.close();
    throw e;
  }
  const result = {
    url: server.url,
    upstream: flags.upstream,
    protocol: flags.protocol,
    auth: config.auth,
    auditLog: config.auditPath ?? null,
    tornAuditBytes: server.tornAuditBytes,
    monitor: config.monitor ?? null,
    dawn: config.dawn === undefined ? null : { rate: config.dawn.rate, log: defence?.dawnLog ?? null },
    ...(flags.modelName === undefined ? {} : { predictUrl: predictUrl(server.url, flags.protocol, flags.modelName) }),
  };
  if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(
      [
        `provmark guard: ${server.url} → ${flags.upstream} (${flags.protocol})`,
        `  auth: ${config.auth ? "API keys (Authorization: Bearer <key> or x-api-key)" : "off (loopback only)"}`,
        `  audit log: ${config.auditPath ?? "none"}`,
        ...defenceLines(config, defence?.dawnLog ?? null),
        ...(result.predictUrl === undefined ? [] : [`  predict: POST ${result.predictUrl}`]),
        "  Ctrl-C stops it.",
        "",
      ].join("\n"),
    );
  }
  await untilSignal();
  await server.close();
  await defence?.close();
}

/** What the extraction defence does, for the start-up banner. */
export function defenceLines(
  config: Pick<import("../../guard/guard-config.js").GuardConfig, "monitor" | "dawn">,
  dawnLog: string | null,
): string[] {
  const m = config.monitor;
  return [
    m === undefined
      ? "  extraction monitor: off"
      : `  extraction monitor: PRADA, δ ${m.delta}, on alert: ${m.action}${m.webhook === undefined ? "" : " (+ webhook)"}; GET /provmark/alerts (auditor)`,
    config.dawn === undefined
      ? "  DAWN answers: off"
      : `  DAWN answers: ${(config.dawn.rate * 100).toFixed(2)}% of each client's inputs, logged encrypted to ${dawnLog}`,
  ];
}
