import { request as httpRequestRaw, type IncomingMessage } from "node:http";
import { request as httpsRequestRaw } from "node:https";
import { VERSION } from "../../version.js";
import { ACCEPTED_ENCODINGS, decodeContentEncoding } from "./content-encoding.js";
import type { ResponseMeta } from "./types.js";

/** Responses larger than this (as received, and once decoded) are refused ("malformed") instead of filling memory. */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export interface HttpRequest {
  url: string;
  method: "GET" | "POST" | "PUT";
  /** Sent as given; values are secrets: they never appear in details, journals or reports. */
  headers: Readonly<Record<string, string>>;
  body?: Uint8Array;
  signal: AbortSignal;
  /** The adapter's own per-request limit, on top of `signal`. */
  timeoutMs?: number;
  /** Largest body accepted, as received and once decoded (default MAX_RESPONSE_BYTES). */
  maxBytes?: number;
  now?: () => number;
}

export interface HttpReply {
  status: number | null;
  /** The body exactly as received, before its Content-Encoding is undone: what is hashed and kept. */
  raw: Uint8Array | null;
  /** The body with its Content-Encoding undone: what is parsed. Null when none arrived or it did not decode. */
  body: Uint8Array | null;
  /** Why a body that arrived could not be decoded (its Content-Encoding is unknown, or the bytes are not it). */
  undecodable?: string;
  /** How the body came (encoding, Date, Server, Content-Type); absent when no response arrived. */
  response?: ResponseMeta;
  retryAfterMs?: number;
  /** A redirect's Location header, as sent (redirects are never followed here). */
  location?: string;
  /** Set with a "malformed" failure when the body passed `maxBytes` (the connection was dropped). */
  tooLarge?: true;
  /** Set when no complete response arrived. */
  failure?: { kind: "timeout" | "network" | "malformed"; detail: string };
  startedAt: string;
  ms: number;
}

export const isTimeoutReason = (reason: unknown): boolean =>
  (reason as { name?: unknown } | undefined)?.name === "TimeoutError";

/**
 * One HTTP request with the whole body read, over node:http(s) rather than fetch, because fetch
 * undoes gzip/brotli/deflate before the caller sees a byte: evidence must hash the bytes as they
 * came. Redirects are not followed. Network faults and timeouts are values; the promise rejects
 * only when `signal` is aborted for a reason other than a timeout (cancellation).
 */
export async function httpRequest(r: HttpRequest): Promise<HttpReply> {
  const now = r.now ?? Date.now;
  const startedAt = new Date(now()).toISOString();
  const t0 = performance.now();
  const own = new AbortController();
  const timer =
    r.timeoutMs === undefined
      ? undefined
      : setTimeout(
          () => own.abort(new DOMException(`no answer within ${r.timeoutMs} ms`, "TimeoutError")),
          r.timeoutMs,
        );
  const signal = AbortSignal.any([r.signal, own.signal]);
  const done = (rest: Omit<HttpReply, "startedAt" | "ms">): HttpReply => ({
    ...rest,
    startedAt,
    ms: Math.round(performance.now() - t0),
  });
  let status: number | null = null;
  try {
    const res = await send(r, signal);
    status = res.statusCode ?? null;
    const response = responseMeta(res);
    const retry = res.headers["retry-after"];
    const retryAfterMs = typeof retry === "string" ? parseRetryAfter(retry, now()) : undefined;
    const location = res.headers.location;
    const base = {
      status,
      response,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      ...(typeof location === "string" ? { location } : {}),
    };
    const max = r.maxBytes ?? MAX_RESPONSE_BYTES;
    const raw = await readCapped(res, max);
    if (raw === "too-large") {
      return done({
        ...base,
        raw: null,
        body: null,
        tooLarge: true,
        failure: { kind: "malformed", detail: `response larger than ${max} bytes` },
      });
    }
    const decoded = decodeContentEncoding(raw, response.encoding, max);
    if (!decoded.ok) {
      return done({
        ...base,
        raw,
        body: null,
        undecodable: decoded.detail,
        ...(decoded.tooLarge ? { tooLarge: true } : {}),
      });
    }
    return done({ ...base, raw, body: decoded.body });
  } catch (e) {
    if (signal.aborted) {
      if (!isTimeoutReason(signal.reason)) throw signal.reason;
      const detail = (signal.reason as Error).message || "timed out";
      return done({ status, raw: null, body: null, failure: { kind: "timeout", detail } });
    }
    const where = status === null ? "request failed" : `connection closed while reading the ${status} response`;
    return done({ status, raw: null, body: null, failure: { kind: "network", detail: `${where}: ${causeText(e)}` } });
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

function send(r: HttpRequest, signal: AbortSignal): Promise<IncomingMessage> {
  const url = new URL(r.url);
  const headers: Record<string, string> = {
    accept: "application/json",
    "accept-encoding": ACCEPTED_ENCODINGS,
    "user-agent": `provmark/${VERSION}`,
  };
  for (const [name, value] of Object.entries(r.headers)) {
    // a caller's header replaces the default of the same name, whatever its case
    for (const k of Object.keys(headers)) if (k === name.toLowerCase()) delete headers[k];
    headers[name] = value;
  }
  if (r.body !== undefined) headers["content-length"] = String(r.body.byteLength);
  const request = url.protocol === "https:" ? httpsRequestRaw : httpRequestRaw;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: r.method, headers, signal }, resolve);
    req.on("error", reject);
    req.end(r.body === undefined ? undefined : Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength));
  });
}

function responseMeta(res: IncomingMessage): ResponseMeta {
  const one = (name: string): string | null => {
    const v = res.headers[name];
    return typeof v === "string" ? v : Array.isArray(v) ? v.join(", ") : null;
  };
  return {
    encoding: one("content-encoding"),
    headers: { date: one("date"), server: one("server"), contentType: one("content-type") },
  };
}

/** The whole body, or "too-large" (the connection is dropped) past `max` bytes. */
function readCapped(res: IncomingMessage, max: number): Promise<Uint8Array | "too-large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    res.on("data", (c: Buffer) => {
      n += c.length;
      if (n > max) {
        res.destroy();
        resolve("too-large");
        return;
      }
      chunks.push(c);
    });
    res.on("end", () => resolve(Buffer.concat(chunks, n)));
    res.on("aborted", () => reject(Object.assign(new Error("the connection closed mid-body"), { code: "ECONNRESET" })));
    res.on("error", reject);
  });
}

function causeText(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown; cause?: { code?: string; message?: string } };
  if (typeof err?.code === "string") return err.code;
  return err?.cause?.code ?? err?.cause?.message ?? String(err?.message ?? e);
}

/** Retry-After as milliseconds: delay-seconds or an HTTP date (relative to `nowMs`); undefined if invalid. */
export function parseRetryAfter(value: string, nowMs: number): number | undefined {
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/[a-z]/i.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
