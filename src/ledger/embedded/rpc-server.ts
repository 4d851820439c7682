import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { isProvmarkError, ProvmarkError } from "../../errors.js";
import type { Eip1193Provider } from "./edr-network.js";
import { openWritableChain } from "./embedded-chain.js";
import { isLoopbackHost, lockedAccountsProvider } from "./locked-accounts.js";
import { RpcCode } from "./rpc-error.js";

/** Largest request body accepted; larger ones get HTTP 413. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

export interface ServeEmbeddedChainOptions {
  stateDir: string;
  /** Interface to listen on; default 127.0.0.1. Anything but loopback needs `allowRemote`. */
  host?: string;
  /**
   * Serve without unlocked accounts (node-side signing refused, eth_accounts empty), which is what
   * makes a non-loopback `host` acceptable: nobody who reaches the port can sign as a dev account.
   */
  allowRemote?: boolean;
  /** Default 8545; 0 picks a free port. */
  port?: number;
  now?: () => number;
  /** Called with each request's method before it runs (for logging). */
  onRequest?: (method: string) => void;
  /** How long to wait for another process holding the chain lock (default 15 s). */
  lockTimeoutMs?: number;
}

export interface EmbeddedChainServer {
  url: string;
  close(): Promise<void>;
}

type JsonRpcId = string | number | null;
interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}
type JsonRpcResponse =
  | { jsonrpc: "2.0"; id: JsonRpcId; result: unknown }
  | { jsonrpc: "2.0"; id: JsonRpcId; error: JsonRpcErrorObject };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The JSON-RPC error object for a failed request, following Hardhat's node: a revert (code 3)
 * carries the raw revert data, so ethers and viem can decode custom errors; other provider errors
 * keep their code; provmark errors and anything unexpected are internal errors (-32603).
 */
export function toJsonRpcError(e: unknown): JsonRpcErrorObject {
  if (isProvmarkError(e)) {
    return { code: RpcCode.internal, message: e.message, data: { provmarkCode: e.code, hints: e.hints } };
  }
  const err = e as { code?: unknown; message?: unknown; data?: unknown; transactionHash?: unknown } | undefined;
  const message = typeof err?.message === "string" ? err.message : String(e);
  if (typeof err?.code !== "number") return { code: RpcCode.internal, message };
  const nested = isObject(err.data) ? err.data : {};
  const returnData =
    typeof err.data === "string" ? err.data : typeof nested.data === "string" ? nested.data : undefined;
  if (err.code === 3) return { code: 3, message, ...(returnData === undefined ? {} : { data: returnData }) };
  const txHash = typeof err.transactionHash === "string" ? err.transactionHash : nested.transactionHash;
  const data = Object.fromEntries(
    Object.entries({ txHash, data: returnData, reason: nested.reason }).filter(([, v]) => v !== undefined),
  );
  return { code: err.code, message, ...(Object.keys(data).length === 0 ? {} : { data: { message, ...data } }) };
}

async function handleOne(
  provider: Eip1193Provider,
  request: unknown,
  onRequest: ((method: string) => void) | undefined,
): Promise<JsonRpcResponse | null> {
  const rawId = isObject(request) ? request.id : undefined;
  const id: JsonRpcId = typeof rawId === "string" || typeof rawId === "number" ? rawId : null;
  const params = isObject(request) ? request.params : undefined;
  if (
    !isObject(request) ||
    request.jsonrpc !== "2.0" ||
    typeof request.method !== "string" ||
    !(params === undefined || Array.isArray(params) || isObject(params)) ||
    !(rawId === undefined || rawId === null || typeof rawId === "string" || typeof rawId === "number")
  ) {
    return { jsonrpc: "2.0", id, error: { code: RpcCode.invalidRequest, message: "Invalid JSON-RPC 2.0 request" } };
  }
  onRequest?.(request.method);
  let response: JsonRpcResponse;
  try {
    const result = await provider.request({ method: request.method, params: params ?? [] });
    response = { jsonrpc: "2.0", id, result: result ?? null };
  } catch (e) {
    response = { jsonrpc: "2.0", id, error: toJsonRpcError(e) };
  }
  // A notification (no id) gets no response.
  return rawId === undefined ? null : response;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function tooLarge(res: ServerResponse): void {
  res.setHeader("connection", "close");
  send(res, 413, {
    jsonrpc: "2.0",
    id: null,
    error: { code: RpcCode.invalidRequest, message: `request body exceeds ${MAX_BODY_BYTES} bytes` },
  });
}

/** The body, or null when it exceeded the limit (413 has been sent). */
async function readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer | null> {
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (declared > MAX_BODY_BYTES) {
    tooLarge(res);
    req.resume();
    return null;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      tooLarge(res);
      req.resume();
      return null;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function handler(provider: Eip1193Provider, onRequest: ((method: string) => void) | undefined) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      if (req.method !== "POST") {
        res.setHeader("allow", "POST");
        send(res, 405, {
          jsonrpc: "2.0",
          id: null,
          error: { code: RpcCode.invalidRequest, message: "JSON-RPC requests must be POSTed" },
        });
        return;
      }
      if (req.headers.origin !== undefined) {
        // Browsers send Origin; refusing them keeps web pages (and DNS-rebinding tricks) from
        // sending transactions from the unlocked dev accounts. Other clients send no Origin.
        send(res, 403, {
          jsonrpc: "2.0",
          id: null,
          error: {
            code: RpcCode.invalidRequest,
            message: "requests from web pages (with an Origin header) are refused",
          },
        });
        return;
      }
      const body = await readBody(req, res);
      if (body === null) return;
      let payload: unknown;
      try {
        payload = JSON.parse(body.toString("utf8"));
      } catch (e) {
        send(res, 200, {
          jsonrpc: "2.0",
          id: null,
          error: { code: RpcCode.parseError, message: `Parse error: ${(e as Error).message}` },
        });
        return;
      }
      if (Array.isArray(payload)) {
        if (payload.length === 0) {
          send(res, 200, { jsonrpc: "2.0", id: null, error: { code: RpcCode.invalidRequest, message: "Empty batch" } });
          return;
        }
        const responses: JsonRpcResponse[] = [];
        for (const one of payload) {
          const response = await handleOne(provider, one, onRequest);
          if (response !== null) responses.push(response);
        }
        if (responses.length === 0) send(res, 204, undefined);
        else send(res, 200, responses);
        return;
      }
      const response = await handleOne(provider, payload, onRequest);
      if (response === null) send(res, 204, undefined);
      else send(res, 200, response);
    } catch (e) {
      if (!res.headersSent) send(res, 500, { jsonrpc: "2.0", id: null, error: toJsonRpcError(e) });
      else res.destroy();
    }
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const onError = (e: Error) => {
      server.off("listening", onListening);
      reject(e);
    };
    const onListening = () => {
      server.off("error", onError);
      resolvePromise();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
}

function listenError(e: unknown, host: string, port: number): ProvmarkError {
  const code = (e as NodeJS.ErrnoException).code;
  const where = `${host}:${port}`;
  if (code === "EADDRINUSE") {
    return new ProvmarkError("USAGE", `port ${port} on ${host} is in use`, {
      subject: "--port",
      cause: e,
      hints: [
        "Pass --port 0 to pick a free port, or another --port.",
        `Is another chain server already running there? (lsof -i :${port})`,
      ],
    });
  }
  if (code === "EACCES") {
    return new ProvmarkError("USAGE", `not allowed to listen on ${where}`, {
      subject: "--port",
      cause: e,
      hints: ["Ports below 1024 need privileges; --port 0 picks a free one."],
    });
  }
  return new ProvmarkError("USAGE", `cannot listen on ${where}: ${(e as Error).message}`, {
    subject: "--host",
    cause: e,
    hints: ["Check --host: it must be an address of this machine (default 127.0.0.1)."],
  });
}

/** The URL clients on this machine use: a wildcard address is reached through loopback. */
function clientUrl(host: string, port: number): string {
  const reachable = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${reachable.includes(":") ? `[${reachable}]` : reachable}:${port}`;
}

/**
 * Serves the persistent dev chain over JSON-RPC 2.0 (HTTP POST, single and batch requests) for as
 * long as it runs, holding the chain lock with its URL recorded: `openEmbeddedChain` in other
 * processes then uses this server instead of replaying the journal. `close()` stops it and releases
 * the lock.
 *
 * @example
 * const server = await serveEmbeddedChain({ stateDir, port: 0 });
 * const provider = new ethers.JsonRpcProvider(server.url);
 * // ...
 * await server.close();
 */
export async function serveEmbeddedChain(options: ServeEmbeddedChainOptions): Promise<EmbeddedChainServer> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 8545;
  if (!isLoopbackHost(host) && !options.allowRemote) {
    throw new ProvmarkError("USAGE", `refusing to serve the dev chain on ${host}: it is not a loopback address`, {
      subject: "--host",
      hints: [
        "Other machines could send transactions from the unlocked dev accounts.",
        "Pass --allow-remote to serve it without unlocked accounts (clients then sign their own transactions).",
      ],
    });
  }
  const opened = await openWritableChain({
    stateDir: options.stateDir,
    now: options.now ?? Date.now,
    whenServed: "refuse",
    ...(options.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: options.lockTimeoutMs }),
  });
  if ("servedBy" in opened) throw new ProvmarkError("INTERNAL", "a served chain was returned to the server");
  const { chain, lock } = opened;
  const provider = options.allowRemote ? lockedAccountsProvider(opened.provider) : opened.provider;
  const server = createServer(handler(provider, options.onRequest));
  server.keepAliveTimeout = 5_000;
  try {
    await listen(server, port, host);
  } catch (e) {
    await chain.close();
    throw listenError(e, host, port);
  }
  const url = clientUrl(host, (server.address() as AddressInfo).port);
  try {
    await lock.setUrl(url);
  } catch (e) {
    server.close();
    await chain.close();
    throw e;
  }
  let closed: Promise<void> | undefined;
  return {
    url,
    close: () => {
      closed ??= (async () => {
        const stopped = new Promise<void>((resolveClose) => server.close(() => resolveClose()));
        server.closeAllConnections();
        await stopped;
        await chain.close();
      })();
      return closed;
    },
  };
}
