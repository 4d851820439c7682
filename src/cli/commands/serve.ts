import { backendChoice } from "../../model/backend.js";
import type { GlobalOptions } from "../program.js";
import { type ModelIOFlags, modelIOOverrides } from "./model-io-flags.js";

export interface ServeFlags extends ModelIOFlags {
  model: string;
  port: number;
  host: string;
  name?: string;
  json?: boolean;
  verbose?: boolean;
}

/**
 * Serves a LayersModel over TF Serving REST and KServe v2 until SIGINT or SIGTERM, then closes
 * gracefully (in-flight requests finish). Prints both APIs' URLs, or one JSON line with --json,
 * once listening; with --verbose, one line per request on stderr.
 */
export async function serve(flags: ServeFlags, globals: GlobalOptions): Promise<void> {
  const { startModelServer } = await import("../../serve/model-server.js");
  const server = await startModelServer({
    modelDir: flags.model,
    host: flags.host,
    port: flags.port,
    backend: backendChoice(globals.backend),
    io: modelIOOverrides(flags),
    ...(flags.name === undefined ? {} : { modelName: flags.name }),
    ...(flags.verbose ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
  });
  const sig = server.signature;
  const result = {
    url: server.url,
    model: server.modelName,
    modelDir: flags.model,
    predictUrl: server.predictUrl,
    inferUrl: server.inferUrl,
    classifyUrl: server.classifyUrl,
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
        "  Ctrl-C stops it (in-flight requests finish first).",
        "",
      ].join("\n"),
    );
  }
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  await server.close();
}
