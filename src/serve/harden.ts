/**
 * Limits that keep one HTTP server up under abusive clients: a cap on open connections (the one
 * over it gets a 503 and is closed), header and whole-request deadlines (slowloris: a client that
 * trickles its headers or body is cut off), keep-alive limits. Shared by serve and the guard.
 */
import type { IncomingMessage, Server, ServerOptions, ServerResponse } from "node:http";
import type { Socket } from "node:net";

export interface ServerLimits {
  maxConnections: number;
  /** Headers must be complete this long after the connection's request started. */
  headersTimeoutMs: number;
  /** The body must be complete this long after the headers. */
  bodyTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Requests on one keep-alive connection before it is closed; 0 = no limit. */
  maxRequestsPerSocket: number;
}

export const SERVER_LIMIT_DEFAULTS: ServerLimits = {
  maxConnections: 1024,
  headersTimeoutMs: 20_000,
  bodyTimeoutMs: 40_000,
  keepAliveTimeoutMs: 5_000,
  maxRequestsPerSocket: 0,
};

/**
 * Options for `createServer`: Node checks its header and request deadlines only every
 * `connectionsCheckingInterval` (30 s by default), too coarse for short deadlines.
 */
export function hardenedServerOptions(limits: ServerLimits): ServerOptions {
  const shortest = Math.min(limits.headersTimeoutMs, limits.bodyTimeoutMs);
  return {
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(shortest / 4))),
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.headersTimeoutMs + limits.bodyTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
  };
}

const OVER = JSON.stringify({ error: "too many connections: try again later" });
const OVER_RESPONSE =
  "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n" +
  `connection: close\r\ncontent-length: ${Buffer.byteLength(OVER)}\r\n\r\n${OVER}`;

/**
 * Applies the limits to a server made with `hardenedServerOptions`. The returned `admit` is called
 * first by the request handler: false for a request on a connection refused for being over the cap
 * (the handler must do nothing). The request that reaches `maxRequestsPerSocket` is answered with
 * `connection: close` and its connection closed after it: Node's own limit answers later requests
 * 503 yet keeps the connection, which a client ignoring `connection: close` turns into a 503 storm.
 */
export function hardenServer(
  server: Server,
  limits: ServerLimits,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.headersTimeoutMs + limits.bodyTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxRequestsPerSocket = 0;
  const refused = new WeakSet<Socket>();
  const served = new WeakMap<Socket, number>();
  let open = 0;
  server.prependListener("connection", (socket: Socket) => {
    if (open >= limits.maxConnections) {
      refused.add(socket);
      socket.on("error", () => {});
      socket.end(OVER_RESPONSE);
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    open++;
    socket.once("close", () => open--);
  });
  return (req, res) => {
    const socket = req.socket;
    if (refused.has(socket)) {
      res.destroy();
      return false;
    }
    if (limits.maxRequestsPerSocket > 0) {
      const n = (served.get(socket) ?? 0) + 1;
      served.set(socket, n);
      if (n >= limits.maxRequestsPerSocket) {
        res.shouldKeepAlive = false;
        res.setHeader("connection", "close");
        res.once("finish", () => socket.end());
      }
    }
    return true;
  };
}
