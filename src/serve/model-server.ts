import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, dirname, resolve } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs";
import { ProvmarkError } from "../errors.js";
import { type BackendChoice, type BackendName, loadTf } from "../model/backend.js";
import { loadLayersModel } from "../model/fs-io-handler.js";
import type { ModelIOOverrides } from "../model/infer-io.js";
import { hardenedServerOptions, hardenServer, SERVER_LIMIT_DEFAULTS, type ServerLimits } from "./harden.js";
import {
  assertJsonContentType,
  clientUrl,
  listen,
  listenError,
  parseJson,
  RequestError,
  readBody,
  sendJsonText,
} from "./http.js";
import { assertImageContentType, classifyResponse, type ImageIO, imagesBatch } from "./image-requests.js";
import { createInferenceQueue, type InferenceQueue } from "./inference-queue.js";
import * as kserve from "./kserve.js";
import { allowedMethods, matchRoute, type Route } from "./routes.js";
import { serveImageIO } from "./serve-image-io.js";
import type { ModelSignature } from "./tensor-json.js";
import * as tfs from "./tf-serving.js";

export const SERVE_DEFAULTS = {
  host: "127.0.0.1",
  port: 8501,
  maxBodyBytes: 20 * 1024 * 1024,
  maxBatch: 256,
  /** Requests waiting for inference at once; more get 503 with Retry-After. */
  maxQueue: 1024,
  /** How long `close()` lets in-flight requests finish before cutting their connections. */
  closeGraceMs: 10_000,
} as const;

export interface ModelServerOptions {
  /** A LayersModel directory (model.json and its shards). */
  modelDir: string;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Default 8501 (TF Serving's REST port); 0 picks a free one. */
  port?: number;
  /** The name in URLs; default the model directory's name. */
  modelName?: string;
  /** Largest request body, in bytes (larger ones get 413); default 20 MiB. */
  maxBodyBytes?: number;
  /** Most instances in one request; default 256. */
  maxBatch?: number;
  backend?: BackendChoice;
  /**
   * How encoded images (TF Serving `{"b64"}`, KServe BYTES, `:classify` bodies) become the model's
   * numbers, where the model's files do not say (`--preprocess`, `--class-names`, `--resize`).
   * Without them and with nothing to infer from, the server takes tensors only.
   */
  io?: ModelIOOverrides;
  /** Called with one line per request (method, path, status, instances, time); never with bodies. */
  log?: (line: string) => void;
  closeGraceMs?: number;
  /** Requests waiting for inference at once (default 1024); one more gets 503 with Retry-After. */
  maxQueue?: number;
  /** Connection cap, header and body deadlines, keep-alive limits (src/serve/harden.ts). */
  limits?: Partial<ServerLimits>;
  /**
   * false: open no port; requests come only through `handle` (a guard in the same process, which
   * then cannot be bypassed). The URLs are then `in-process:` and meaningless.
   */
  listen?: boolean;
}

export interface ModelServerStats {
  requests: number;
  /** Instances predicted (successful requests only). */
  instances: number;
  /** Responses with a 4xx or 5xx status. */
  errors: number;
}

export interface ModelServer {
  /** Base URL, e.g. http://127.0.0.1:8501 */
  url: string;
  port: number;
  modelName: string;
  signature: ModelSignature;
  /** The input description encoded images are decoded by, or why the server takes tensors only. */
  imageIO: ImageIO;
  backend: BackendName;
  /** TF Serving REST: POST here with {"instances": [...]}. */
  predictUrl: string;
  /** KServe v2: POST here with {"inputs": [...]}. */
  inferUrl: string;
  /** Image bytes in, `[{label, score}]` out. */
  classifyUrl: string;
  stats(): ModelServerStats;
  /**
   * Answers a request without HTTP, as the port would (routes, errors, stats): for a guard in the
   * same process (`serve --guard`), which saves a second HTTP hop per request.
   */
  handle(req: ServeRequest): Promise<ServeReply>;
  /** Stops accepting connections, lets in-flight requests finish, then frees the model. */
  close(): Promise<void>;
}

/** A request to the model server, HTTP or in-process. */
export interface ServeRequest {
  method: string;
  /** Without the query string. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The body (read once; bounded by maxBodyBytes over HTTP). */
  body(): Promise<Buffer>;
}

export interface ServeReply {
  status: number;
  /** JSON text. */
  text: string;
  headers?: Record<string, string>;
  /** Instances predicted. */
  instances: number;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The model directory's name (the directory holding it, when given a model.json or manifest file). */
function defaultModelName(modelDir: string): string {
  const path = resolve(modelDir);
  return path.endsWith(".json") ? basename(dirname(path)) : basename(path);
}

function positiveInt(name: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new ProvmarkError("USAGE", `${name} must be an integer from ${min} to ${max}, got ${v}`, { subject: name });
  }
  return v;
}

/** The model's one input [batch, ...shape] and one output [batch, classes], or a coded error. */
export function modelSignature(model: tfTypes.LayersModel, dir: string): ModelSignature {
  const unsupported = (why: string) =>
    new ProvmarkError("MODEL_FORMAT_UNSUPPORTED", `${dir} cannot be served: ${why}`, {
      subject: dir,
      hints: ["provmark serve serves models with one input [batch, ...fixed dims] and one output [batch, classes]."],
    });
  if (model.inputs.length !== 1) throw unsupported(`it has ${model.inputs.length} inputs`);
  if (model.outputs.length !== 1) throw unsupported(`it has ${model.outputs.length} outputs`);
  const input = model.inputs[0] as tfTypes.SymbolicTensor;
  const output = model.outputs[0] as tfTypes.SymbolicTensor;
  const dims = input.shape.slice(1);
  const known = (d: number | null): d is number => d !== null && Number.isSafeInteger(d) && d > 0;
  if (input.shape[0] !== null || dims.length === 0 || !dims.every(known)) {
    throw unsupported(`its input shape [${input.shape.map(String).join(", ")}] is not [batch, ...fixed dims]`);
  }
  const classes = output.shape[1] ?? null;
  if (output.shape.length !== 2 || output.shape[0] !== null || !known(classes)) {
    throw unsupported(`its output shape [${output.shape.map(String).join(", ")}] is not [batch, classes]`);
  }
  return {
    inputName: input.name,
    inputShape: dims,
    inputSize: dims.reduce((a, b) => a * b, 1),
    classes,
  };
}

/**
 * Serves a TF.js LayersModel over TF Serving's REST API and KServe v2 (Open Inference Protocol)
 * on one port. The model is loaded once; requests are parsed concurrently and inference is
 * serialised, concurrent requests sharing batches. Routes and formats: docs/serve.md.
 *
 * @example
 * const server = await startModelServer({ modelDir: "models/marked", port: 0 });
 * await fetch(server.predictUrl, { method: "POST", body: JSON.stringify({ instances: [pixels] }) });
 * await server.close();
 */
export async function startModelServer(options: ModelServerOptions): Promise<ModelServer> {
  const host = options.host ?? SERVE_DEFAULTS.host;
  const port = positiveInt("--port", options.port ?? SERVE_DEFAULTS.port, 0, 65535);
  const maxBodyBytes = positiveInt("maxBodyBytes", options.maxBodyBytes ?? SERVE_DEFAULTS.maxBodyBytes, 1);
  const maxBatch = positiveInt("maxBatch", options.maxBatch ?? SERVE_DEFAULTS.maxBatch, 1);
  const modelName = options.modelName ?? defaultModelName(options.modelDir);
  if (!NAME_RE.test(modelName)) {
    throw new ProvmarkError("USAGE", `${JSON.stringify(modelName)} cannot be a model name in URLs`, {
      subject: "--name",
      hints: ["Pass --name with letters, digits, '.', '_' or '-' (at most 128, starting with a letter or digit)."],
    });
  }

  const { tf, info } = await loadTf(options.backend);
  const model = await loadLayersModel(tf, options.modelDir);
  let queue: InferenceQueue;
  let sig: ModelSignature;
  let imageIO: ImageIO;
  try {
    sig = modelSignature(model, options.modelDir);
    imageIO = await serveImageIO(model, options.modelDir, options.io);
    queue = createInferenceQueue(tf, model, sig, maxBatch, options.maxQueue ?? SERVE_DEFAULTS.maxQueue);
    // Warm up (kernels, weights upload) so the first client does not pay for it.
    await queue.run(new Float32Array(sig.inputSize), 1);
  } catch (e) {
    model.dispose();
    if (e instanceof ProvmarkError) throw e;
    throw new ProvmarkError("MODEL_LOAD_FAILED", `${options.modelDir} does not run: ${(e as Error).message}`, {
      subject: options.modelDir,
      cause: e,
    });
  }

  const counters: ModelServerStats = { requests: 0, instances: 0, errors: 0 };
  let closing = false;
  const log = options.log;

  const checkModel = (route: Route & { name: string; version?: string }) => {
    const version = route.version ?? tfs.MODEL_VERSION;
    if (route.api === "tfs") {
      if (route.name !== modelName)
        throw new RequestError(404, `Servable not found for request: Latest(${route.name})`);
      if (version !== tfs.MODEL_VERSION) {
        throw new RequestError(404, `Servable not found for request: Specific(${route.name}, ${version})`);
      }
    } else {
      if (route.name !== modelName)
        throw new RequestError(404, `model ${JSON.stringify(route.name)} is not served here`);
      if (version !== tfs.MODEL_VERSION) {
        throw new RequestError(404, `model ${JSON.stringify(route.name)} has no version ${JSON.stringify(version)}`);
      }
    }
  };

  const readJson = async (req: ServeRequest): Promise<unknown> => {
    assertJsonContentType(req);
    return parseJson(await req.body());
  };

  const ok = (body: unknown, status = 200, instances = 0): ServeReply => ({
    status,
    text: JSON.stringify(body),
    instances,
  });

  /** Answers one request. */
  const dispatch = async (req: ServeRequest): Promise<ServeReply> => {
    const { method, path } = req;
    const route = matchRoute(path);
    if (route === undefined) throw new RequestError(404, `no such route: ${method} ${path.slice(0, 200)}`);
    const allowed = allowedMethods(route);
    if (!allowed.includes(method)) {
      throw new RequestError(405, `${method} is not allowed here: use ${allowed.join(" or ")}`, {
        allow: allowed.join(", "),
      });
    }
    if ("name" in route) checkModel(route);
    switch (route.kind) {
      case "predict": {
        const r = tfs.parsePredictRequest(await readJson(req), sig, maxBatch);
        const x = "x" in r ? r.x : await imagesBatch(r.images, imageIO, "instances");
        const y = await queue.run(x, r.n);
        return { status: 200, text: tfs.predictResponse(y, r.n, sig.classes, r.columnar), instances: r.n };
      }
      case "infer": {
        const r = kserve.parseInferRequest(await readJson(req), sig, maxBatch);
        const x = "x" in r ? r.x : await imagesBatch(r.images, imageIO, "inputs[0].data");
        const y = await queue.run(x, r.n);
        return { status: 200, text: kserve.inferResponse(modelName, y, r.n, sig.classes, r.id), instances: r.n };
      }
      case "classify": {
        assertImageContentType(req);
        const x = await imagesBatch([await req.body()], imageIO, "body");
        const y = await queue.run(x, 1);
        return {
          status: 200,
          text: classifyResponse(y, imageIO.ok ? imageIO.io.classes.names : undefined),
          instances: 1,
        };
      }
      case "status":
        return ok(tfs.modelStatus());
      case "metadata":
        return ok(tfs.modelMetadata(modelName, sig));
      case "server":
        return ok(kserve.serverMetadata());
      case "live":
        return ok({ live: true });
      case "ready":
        return ok({ ready: !closing }, closing ? 503 : 200);
      case "model":
        return ok(kserve.modelMetadata(modelName, sig));
      case "modelReady":
        return ok({ name: modelName, ready: !closing }, closing ? 503 : 200);
    }
  };

  /** A request's answer, errors included (as `{"error"}` bodies); counted in stats. */
  const answer = async (req: ServeRequest): Promise<ServeReply> => {
    counters.requests++;
    let reply: ServeReply;
    try {
      reply = await dispatch(req);
    } catch (e) {
      reply =
        e instanceof RequestError
          ? { status: e.status, text: JSON.stringify({ error: e.message }), headers: { ...e.headers }, instances: 0 }
          : {
              status: 500,
              text: JSON.stringify({ error: `internal error: ${(e as Error)?.message ?? String(e)}` }),
              instances: 0,
            };
    }
    counters.instances += reply.instances;
    if (reply.status >= 400) counters.errors++;
    return reply;
  };

  const limits: ServerLimits = { ...SERVER_LIMIT_DEFAULTS, ...options.limits };
  const server = createServer(hardenedServerOptions(limits), async (req, res) => {
    if (!admit(req, res)) return;
    const started = performance.now();
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const reply = await answer({
      method: req.method ?? "GET",
      path,
      headers: req.headers,
      body: () => readBody(req, maxBodyBytes),
    });
    if (req.socket.destroyed) res.destroy();
    else
      sendJsonText(res, reply.status, reply.text, closing ? { ...reply.headers, connection: "close" } : reply.headers);
    log?.(
      `${new Date().toISOString()} ${req.socket.remoteAddress ?? "-"} ${req.method} ${path.slice(0, 200)} ` +
        `${res.statusCode} n=${reply.instances} ${(performance.now() - started).toFixed(1)}ms`,
    );
  });
  const admit = hardenServer(server, limits);

  if (options.listen !== false) {
    try {
      await listen(server, port, host);
    } catch (e) {
      model.dispose();
      throw listenError(e, host, port);
    }
  }
  const actualPort = options.listen === false ? 0 : (server.address() as AddressInfo).port;
  const url = options.listen === false ? "in-process:" : clientUrl(host, actualPort);
  const graceMs = options.closeGraceMs ?? SERVE_DEFAULTS.closeGraceMs;
  let closed: Promise<void> | undefined;
  return {
    url,
    port: actualPort,
    modelName,
    signature: sig,
    imageIO,
    backend: info.backend,
    predictUrl: `${url}/v1/models/${modelName}:predict`,
    inferUrl: `${url}/v2/models/${modelName}/infer`,
    classifyUrl: `${url}/v1/models/${modelName}:classify`,
    stats: () => ({ ...counters }),
    handle: answer,
    close: () => {
      closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        await stopped;
        clearTimeout(force);
        await queue.drain();
        model.dispose();
      })();
      return closed;
    },
  };
}
