import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { ProvmarkError } from "../errors.js";

/**
 * A request the server refuses, answered as `{"error": message}` with `status`. Internal to the
 * model server: it never leaves a request handler (the CLI's errors are ProvmarkErrors).
 */
export class RequestError extends Error {
  override readonly name = "RequestError";
  readonly status: number;
  /** Extra response headers (e.g. `allow` for 405). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/** Writes `text` (JSON) with its length; `extra` headers are added. */
export function sendJsonText(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}) {
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...extra,
  });
  res.end(text);
}

/**
 * Media types accepted on POST: JSON ones, text/plain, and application/x-www-form-urlencoded
 * because `curl -d` sends it by default (TF Serving's own examples rely on that). A request with
 * no content-type is accepted too; anything else is clearly not JSON (415).
 */
export function assertJsonContentType(req: Pick<IncomingMessage, "headers">): void {
  const header = req.headers["content-type"];
  if (header === undefined || header.trim() === "") return;
  const type = (header.split(";")[0] ?? "").trim().toLowerCase();
  if (
    type === "application/json" ||
    type.endsWith("+json") ||
    type === "text/json" ||
    type === "text/plain" ||
    type === "application/x-www-form-urlencoded" ||
    type === "*/*"
  ) {
    return;
  }
  throw new RequestError(415, `unsupported content-type ${JSON.stringify(header)}: send application/json`);
}

/**
 * Reads a request body of at most `limit` bytes. A declared content-length over the limit is
 * refused before reading anything; a body that grows past it stops being read at once (the
 * request is paused and the connection closed after the 413 answer), so it is never buffered.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        chunks.length = 0;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const onClose = () => {
      if (!req.complete) onError(new Error("request aborted"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

function tooLarge(limit: number): RequestError {
  return new RequestError(413, `request body exceeds ${limit} bytes`, { connection: "close" });
}

/** Parses a JSON body, or answers 400. */
export function parseJson(body: Buffer): unknown {
  if (body.length === 0) throw new RequestError(400, "empty request body: send a JSON object");
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (e) {
    throw new RequestError(400, `JSON Parse error: ${(e as Error).message}`);
  }
}

export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => {
      server.off("listening", onListening);
      reject(e);
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
}

/** Why listening failed, as a coded usage error naming the port or host. */
export function listenError(e: unknown, host: string, port: number): ProvmarkError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE") {
    return new ProvmarkError("USAGE", `port ${port} on ${host} is in use`, {
      subject: "--port",
      cause: e,
      hints: ["Pass --port 0 to pick a free port, or choose another --port.", `What holds it? (lsof -i :${port})`],
    });
  }
  if (code === "EACCES") {
    return new ProvmarkError("USAGE", `not allowed to listen on ${host}:${port}`, {
      subject: "--port",
      cause: e,
      hints: ["Ports below 1024 need privileges; --port 0 picks a free one."],
    });
  }
  return new ProvmarkError("USAGE", `cannot listen on ${host}:${port}: ${(e as Error).message}`, {
    subject: "--host",
    cause: e,
    hints: ["Check --host: it must be an address of this machine (default 127.0.0.1)."],
  });
}

/** The base URL clients on this machine use: a wildcard address is reached through loopback. */
export function clientUrl(host: string, port: number): string {
  const reachable = host === "0.0.0.0" || host === "" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${reachable.includes(":") ? `[${reachable}]` : reachable}:${port}`;
}
