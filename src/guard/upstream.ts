/** Forwards one request to the upstream model server and buffers its answer (bounded, with a deadline). */
import { Agent, type IncomingHttpHeaders, request } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { ModelServer } from "../serve/model-server.js";

export interface UpstreamReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export class UpstreamError extends Error {
  override readonly name = "UpstreamError";
  constructor(
    readonly status: 502 | 504,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Headers the guard passes on; credentials and hop-by-hop headers stay behind, and so does
 * accept-encoding: a compressed answer would be unreadable to the hooks (a way around the monitor).
 */
const FORWARDED = ["content-type", "accept", "user-agent"];
const MAX_REPLY_BYTES = 256 * 1024 * 1024;

export interface Upstream {
  send(method: string, path: string, headers: IncomingHttpHeaders, body: Buffer): Promise<UpstreamReply>;
  close(): void;
}

export function createUpstream(base: string, timeoutMs: number): Upstream {
  const url = new URL(base);
  const secure = url.protocol === "https:";
  const agent = secure ? new HttpsAgent({ keepAlive: true }) : new Agent({ keepAlive: true });
  const prefix = url.pathname.replace(/\/$/, "");
  return {
    send: (method, path, headers, body) =>
      new Promise((resolve, reject) => {
        const out: Record<string, string> = { "content-length": String(body.length) };
        for (const h of FORWARDED) {
          const v = headers[h];
          if (typeof v === "string") out[h] = v;
        }
        const req = (secure ? httpsRequest : request)(
          {
            protocol: url.protocol,
            hostname: url.hostname,
            port: url.port,
            method,
            path: `${prefix}${path}`,
            headers: out,
            agent,
          },
          (res) => {
            const chunks: Buffer[] = [];
            let size = 0;
            res.on("data", (c: Buffer) => {
              size += c.length;
              if (size > MAX_REPLY_BYTES) {
                req.destroy(new UpstreamError(502, "the upstream's answer is too large"));
                return;
              }
              chunks.push(c);
            });
            res.on("end", () => {
              clearTimeout(timer);
              resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks, size) });
            });
            res.on("error", (e) => req.destroy(e));
          },
        );
        const timer = setTimeout(
          () => req.destroy(new UpstreamError(504, `the upstream did not answer within ${timeoutMs} ms`)),
          timeoutMs,
        );
        req.on("error", (e) => {
          clearTimeout(timer);
          reject(e instanceof UpstreamError ? e : new UpstreamError(502, `the upstream failed: ${e.message}`));
        });
        req.end(body);
      }),
    close: () => agent.destroy(),
  };
}

/**
 * The built-in model server as the upstream, called in-process (`serve --guard`): the same routes
 * and answers as over HTTP, without a second HTTP hop per request.
 */
export function inProcessUpstream(server: Pick<ModelServer, "handle">, timeoutMs: number): Upstream {
  return {
    send: async (method, path, headers, body) => {
      const q = path.indexOf("?");
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new UpstreamError(504, `the model server did not answer within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      try {
        const reply = await Promise.race([
          server.handle({ method, path: q < 0 ? path : path.slice(0, q), headers, body: async () => body }),
          late,
        ]);
        return {
          status: reply.status,
          headers: { "content-type": "application/json", ...reply.headers },
          body: Buffer.from(reply.text, "utf8"),
        };
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => {},
  };
}
