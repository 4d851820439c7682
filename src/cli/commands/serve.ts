import { inputSize, type ModelIO } from "../../core/input/model-io.js";
import { ProvmarkError } from "../../errors.js";
import { backendChoice } from "../../model/backend.js";
import type { GlobalOptions } from "../program.js";
import { defenceLines, readOwnerKey, stderrLine, untilSignal } from "./guard.js";
import { type ModelIOFlags, modelIOOverrides } from "./model-io-flags.js";

export interface ServeFlags extends ModelIOFlags {
  model: string;
  port: number;
  host: string;
  name?: string;
  json?: boolean;
  verbose?: boolean;
  /** A guard.json: the guard listens on --host/--port; the model server, in-process, opens no port. */
  guard?: string;
  /** The owner's key file: the guard's input description and DAWN keys. */
  key?: string;
}

/**
 * Serves a LayersModel over TF Serving REST and KServe v2 until SIGINT or SIGTERM, then closes
 * gracefully (in-flight requests finish). Prints both APIs' URLs, or one JSON line with --json,
 * once listening; with --verbose, one line per request on stderr.
 */
export async function serve(flags: ServeFlags, globals: GlobalOptions): Promise<void> {
  const { startModelServer } = await import("../../serve/model-server.js");
  const guardConfig =
    flags.guard === undefined
      ? undefined
      : await (await import("../../guard/guard-config.js")).loadGuardConfig(flags.guard);
  const server = await startModelServer({
    modelDir: flags.model,
    host: flags.host,
    port: flags.port,
    // guarded: no port of its own, so the guard (in-process) is the only way in
    ...(guardConfig === undefined ? {} : { listen: false }),
    backend: backendChoice(globals.backend),
    io: modelIOOverrides(flags),
    ...(flags.name === undefined ? {} : { modelName: flags.name }),
    ...(flags.verbose ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
  });
  let guard: import("../../guard/guard-server.js").GuardServer | undefined;
  let defence: import("../../guard/defence-config.js").OpenedDefence | undefined;
  if (guardConfig !== undefined) {
    const { startGuard } = await import("../../guard/guard-server.js");
    const { inProcessUpstream } = await import("../../guard/upstream.js");
    const { openDefence } = await import("../../guard/defence-config.js");
    try {
      let io: ModelIO | undefined = server.imageIO.ok ? server.imageIO.io : undefined;
      let seed: Uint8Array | undefined;
      if (flags.key !== undefined) {
        ({ io, seed } = await readOwnerKey(flags.key));
        assertKeyFitsModel(io, server.signature, flags.key);
      }
      defence = await openDefence(guardConfig, { io, seed, warn: stderrLine });
      guard = await startGuard({
        upstream: inProcessUpstream(server, guardConfig.limits.upstreamTimeoutMs),
        protocol: "provmark-serve",
        config: guardConfig,
        host: flags.host,
        port: flags.port,
        ...(io === undefined ? {} : { io }),
        ...(defence === undefined ? {} : { hooks: defence.defence }),
        warn: (line) => process.stderr.write(`${line}\n`),
        ...(flags.verbose ? { log: (line: string) => process.stderr.write(`guard ${line}\n`) } : {}),
      });
    } catch (e) {
      await defence?.close();
      await server.close();
      throw e;
    }
  }
  const sig = server.signature;
  const base = guard?.url ?? server.url;
  const result = {
    url: base,
    model: server.modelName,
    modelDir: flags.model,
    predictUrl: `${base}/v1/models/${server.modelName}:predict`,
    inferUrl: `${base}/v2/models/${server.modelName}/infer`,
    classifyUrl: `${base}/v1/models/${server.modelName}:classify`,
    ...(guard === undefined
      ? {}
      : {
          guard: {
            auth: guardConfig?.auth ?? false,
            auditLog: guardConfig?.auditPath ?? null,
            monitor: guardConfig?.monitor ?? null,
            dawn:
              guardConfig?.dawn === undefined ? null : { rate: guardConfig.dawn.rate, log: defence?.dawnLog ?? null },
          },
        }),
    images: server.imageIO.ok
      ? { preprocess: server.imageIO.io.input.preprocess }
      : { unavailable: server.imageIO.why },
    inputShape: sig.inputShape,
    classes: sig.classes,
    backend: server.backend,
  };
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    process.stdout.write(
      [
        `provmark serve: ${result.model} from ${result.modelDir} (input ${sig.inputShape.join("×")}, ` +
          `${sig.classes} classes, ${result.backend} backend)`,
        `  TF Serving REST:  POST ${result.predictUrl}`,
        `  KServe v2:        POST ${result.inferUrl}`,
        `  image bytes:      POST ${result.classifyUrl}`,
        server.imageIO.ok
          ? '  encoded images ({"b64"}, BYTES, :classify) are decoded by the model\'s input description'
          : `  tensors only: ${server.imageIO.why}`,
        `  health:           GET  ${result.url}/v2/health/ready`,
        ...(guard === undefined
          ? []
          : [
              `  guarded: ${guardConfig?.auth ? "API keys required" : "no auth (loopback)"}; audit log ${guardConfig?.auditPath ?? "off"}`,
              ...(guardConfig === undefined ? [] : defenceLines(guardConfig, defence?.dawnLog ?? null)),
            ]),
        "  Ctrl-C stops it (in-flight requests finish first).",
        "",
      ].join("\n"),
    );
  }
  await untilSignal();
  await guard?.close();
  await defence?.close();
  await server.close();
}

/**
 * The key's input description must be the served model's: the monitor and DAWN read the requests
 * through it, and with another model's they would skip every row.
 */
function assertKeyFitsModel(io: ModelIO, sig: { inputSize: number; classes: number }, keyPath: string): void {
  if (inputSize(io.input) === sig.inputSize && io.classes.count === sig.classes) return;
  throw new ProvmarkError(
    "KEY_MODEL_MISMATCH",
    `${keyPath} was made for inputs of ${inputSize(io.input)} values and ${io.classes.count} classes; the served model takes ${sig.inputSize} values and has ${sig.classes} classes`,
    { subject: "--key", hints: ["Pass the key the served model was watermarked with."] },
  );
}
