/**
 * `provmark guard`: a reverse proxy in front of a model server, speaking the upstream's protocol.
 * Each request is authenticated (API key → client and role), rate-limited, forwarded, its answers
 * passed through the hooks (monitor, DAWN), and recorded in the hash-chained audit log.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { AuditRecord } from "../core/guard/audit-chain.js";
import type { ModelIO } from "../core/input/model-io.js";
import { ProvmarkError } from "../errors.js";
import { hardenedServerOptions, hardenServer } from "../serve/harden.js";
import { clientUrl, listen, listenError, RequestError, readBody } from "../serve/http.js";
import { applyAfterHook, hookDelay } from "./answer-hook.js";
import { type AuditLog, openAuditLog } from "./audit-log.js";
import type { GuardConfig } from "./guard-config.js";
import { handleGuardRoute } from "./guard-routes.js";
import type { GuardClient, GuardHooks } from "./hooks.js";
import { type KeyStore, openKeyStore } from "./key-store.js";
import type { KeyRecord } from "./keys-file.js";
import { createLimiter } from "./limiter.js";
import { type Outcome, refusal } from "./outcome.js";
import { type GuardMode, isInfo, predictProtocol } from "./protocol.js";
import { createUpstream, type Upstream, UpstreamError } from "./upstream.js";

export interface GuardOptions {
  /** Base URL of the model server, e.g. http://127.0.0.1:8501, or an in-process one (inProcessUpstream). */
  upstream: string | Upstream;
  /** The upstream's API; "provmark-serve": `provmark serve`'s TF Serving, KServe and `:classify` routes. */
  protocol: GuardMode;
  config: GuardConfig;
  host?: string;
  port?: number;
  /** How encoded images become model-space rows for the hooks (else only tensors are decoded). */
  io?: ModelIO;
  hooks?: GuardHooks;
  /** One line per request (never bodies or keys). */
  log?: (line: string) => void;
  /** Warnings at start (a torn audit log tail) and while running (a keys file that fails to reload). */
  warn?: (line: string) => void;
  /** The clock, for rate limits (ms). */
  now?: () => number;
}

export interface GuardServer {
  url: string;
  port: number;
  /** Bytes of a torn last audit line cut off at start (0: none). */
  tornAuditBytes: number;
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
export const isLoopback = (host: string): boolean => LOOPBACK.has(host) || /^127\./.test(host);

const ANONYMOUS: GuardClient = { id: "anonymous", name: "anonymous", role: "client" };
const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const EMPTY_SHA = sha256("");

/** The key of a request: `Authorization: Bearer <key>` or `x-api-key`. */
function presentedKey(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === "string") {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const k = req.headers["x-api-key"];
  return typeof k === "string" && k.trim() !== "" ? k.trim() : undefined;
}

/**
 * Starts the guard. A non-loopback host needs auth on (USAGE otherwise); keys file, audit log and
 * config are checked before the port opens.
 *
 * @example
 * const guard = await startGuard({ upstream: server.url, protocol: "tfserving", config, port: 0 });
 */
export async function startGuard(options: GuardOptions): Promise<GuardServer> {
  const { config, protocol } = options;
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 8500;
  const now = options.now ?? Date.now;
  const warn = options.warn ?? (() => {});
  if (!config.auth && !isLoopback(host)) {
    throw new ProvmarkError("USAGE", `the guard may listen on ${host} only with auth on`, {
      subject: "--host",
      hints: ['Set "auth": true and a keysFile in the guard config, or listen on 127.0.0.1.'],
    });
  }
  if (protocol === "json" && config.json === undefined) {
    throw new ProvmarkError(
      "GUARD_CONFIG_INVALID",
      '--protocol json needs the API described under "json" in the guard config',
      {
        subject: "--config",
        hints: ["The section has the format of `detect --protocol json --config` (docs/detect-protocols.md)."],
      },
    );
  }
  const keys: KeyStore | undefined =
    config.auth && config.keysPath !== undefined
      ? await openKeyStore(config.keysPath, (e) => warn(`keys file not reloaded: ${(e as Error).message}`))
      : undefined;
  let audit: AuditLog | undefined;
  let tornAuditBytes = 0;
  if (config.auditPath !== undefined) {
    const opened = await openAuditLog(config.auditPath);
    audit = opened.log;
    tornAuditBytes = opened.tornBytes;
    if (tornAuditBytes > 0) {
      warn(`${config.auditPath}: a torn last line (${tornAuditBytes} bytes, a crash mid-append) was cut off`);
    }
  }
  let auditFailure: string | undefined;
  let closing = false;
  const limiter = createLimiter(config.defaults);
  const limits = config.limits;
  const upstream =
    typeof options.upstream === "string"
      ? createUpstream(options.upstream, limits.upstreamTimeoutMs)
      : options.upstream;
  const hooks = options.hooks ?? {};
  const inputCtx = {
    ...(options.io === undefined ? {} : { io: options.io }),
    ...(config.json === undefined ? {} : { json: config.json }),
  };
  const answerCtx = {
    ...(options.io?.classes.names === undefined ? {} : { classNames: options.io.classes.names }),
    ...(config.json === undefined ? {} : { json: config.json }),
  };

  const serverLimits = { ...limits };
  const server = createServer(hardenedServerOptions(serverLimits));
  const admit = hardenServer(server, serverLimits);

  const authenticate = async (req: IncomingMessage): Promise<{ client: GuardClient; record?: KeyRecord } | Outcome> => {
    if (keys === undefined) return { client: ANONYMOUS };
    const presented = presentedKey(req);
    const www = { "www-authenticate": 'Bearer realm="provmark-guard"' };
    if (presented === undefined) {
      return refusal(401, "missing API key: send Authorization: Bearer <key> or x-api-key", "refused-401", www);
    }
    const record = await keys.lookup(presented);
    if (record === undefined) return refusal(401, "unknown API key", "refused-401", www);
    if (record.revokedAt !== undefined) return refusal(401, "this API key was revoked", "refused-401", www);
    return { client: { id: record.id, name: record.name, role: record.role }, record };
  };

  const handle = async (
    req: IncomingMessage,
    path: string,
    client: GuardClient,
    record: KeyRecord | undefined,
    body: () => Promise<Buffer>,
  ): Promise<Outcome> => {
    const method = req.method ?? "GET";
    if (path.startsWith("/provmark/")) {
      return handleGuardRoute({ req, path, client, body, keys, audit, hooks, now });
    }
    const proto = predictProtocol(protocol, method, path);
    const predict = proto !== undefined;
    if (!predict && !isInfo(protocol, method, path)) {
      return refusal(404, `the guard does not forward ${method} ${path.slice(0, 200)}`, "rejected");
    }
    if (predict && client.role !== "client") {
      return refusal(403, `role ${client.role} may not predict: use a client key`, "refused-403");
    }
    if (record !== undefined) {
      const verdict = limiter.take(record, now());
      if (!verdict.ok) {
        const retry = String(Math.max(1, Math.ceil(verdict.retryAfterMs / 1000)));
        const what = verdict.why === "rate" ? "rate limit exceeded" : "quota exhausted";
        return refusal(429, `${what}: retry after ${retry} s`, "refused-429", { "retry-after": retry });
      }
    }
    if (predict && hooks.before) {
      const d = await hooks.before(client);
      if (d.block !== undefined) return { ...refusal(403, d.block, "blocked"), ...(d.note ? { note: d.note } : {}) };
      if (d.delayMs) await hookDelay(d.delayMs);
    }
    const requestBody = await body();
    let reply: Awaited<ReturnType<typeof upstream.send>>;
    try {
      reply = await upstream.send(method, req.url ?? path, req.headers, requestBody);
    } catch (e) {
      if (e instanceof UpstreamError) return refusal(e.status, e.message, "upstream-error");
      throw e;
    }
    const contentType = String(reply.headers["content-type"] ?? "application/json");
    const encoding = reply.headers["content-encoding"];
    const forwarded: Outcome = {
      status: reply.status,
      body: reply.body,
      headers: {
        "content-type": contentType,
        ...(typeof encoding === "string" ? { "content-encoding": encoding } : {}),
      },
      decision: "forwarded",
    };
    if (proto === undefined || reply.status !== 200 || hooks.after === undefined) return forwarded;
    return applyAfterHook(hooks.after, { client, protocol: proto, requestBody, forwarded, inputCtx, answerCtx });
  };

  server.on("request", async (req: IncomingMessage, res: ServerResponse) => {
    if (!admit(req, res)) return;
    const started = performance.now();
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    let requestBody: Buffer | undefined;
    const body = async () => {
      requestBody ??= await readBody(req, limits.maxBodyBytes);
      return requestBody;
    };
    let client: GuardClient | undefined;
    let out: Outcome;
    try {
      const who = await authenticate(req);
      if ("decision" in who) out = who;
      else {
        client = who.client;
        out = await handle(req, path, who.client, who.record, body);
      }
    } catch (e) {
      if (e instanceof RequestError) out = { ...refusal(e.status, e.message, "rejected", { ...e.headers }) };
      else out = refusal(500, `internal error: ${(e as Error)?.message ?? String(e)}`, "rejected");
    }
    if (req.socket.destroyed) return;
    const record: AuditRecord = {
      time: new Date(now()).toISOString(),
      client: client?.id ?? null,
      method: req.method ?? "GET",
      path: path.slice(0, 500),
      requestSha256: requestBody === undefined ? EMPTY_SHA : sha256(requestBody),
      responseSha256: sha256(out.body),
      status: out.status,
      decision: out.decision,
      altered: out.altered ?? false,
      ...(out.note === undefined ? {} : { note: out.note.slice(0, 500) }),
    };
    if (auditFailure !== undefined) {
      // Nothing is answered unlogged: once an append failed, every answer is refused.
      out = refusal(503, `the audit log cannot be written: ${auditFailure}`, "rejected");
    } else {
      const appended = audit?.append(record);
      const failed = (e: unknown) => {
        auditFailure ??= (e as Error).message;
        warn(`audit log append failed, the guard refuses every request now: ${auditFailure}`);
      };
      if (config.auditWaitForDisk) {
        try {
          await appended;
        } catch (e) {
          failed(e);
          out = refusal(503, `the audit log cannot be written: ${(e as Error).message}`, "rejected");
        }
      } else {
        appended?.catch(failed);
      }
    }
    const bodyUnread = requestBody === undefined && !req.complete;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      ...out.headers,
      "content-length": String(Buffer.byteLength(out.body)),
      ...(bodyUnread || closing ? { connection: "close" } : {}),
    };
    if (!res.headersSent) res.writeHead(out.status, headers);
    res.end(out.body);
    options.log?.(
      `${record.time} ${req.socket.remoteAddress ?? "-"} ${client?.name ?? "-"} ${record.method} ${record.path.slice(0, 200)} ` +
        `${out.status} ${out.decision} ${(performance.now() - started).toFixed(1)}ms`,
    );
  });

  try {
    await listen(server, port, host);
  } catch (e) {
    upstream.close();
    await audit?.close();
    throw listenError(e, host, port);
  }
  const actualPort = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: clientUrl(host, actualPort),
    port: actualPort,
    tornAuditBytes,
    close: () => {
      closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), 10_000);
        force.unref();
        await stopped;
        clearTimeout(force);
        upstream.close();
        await audit?.close();
      })();
      return closed;
    },
  };
}
