import { createHash } from "node:crypto";
import { VERSION } from "../../version.js";
import { parseBody, preview } from "./lenient-json.js";
import { fail } from "./read-answer.js";
import type { BatchOutcome, Exchange, FailureKind, ItemResult } from "./types.js";

/** Responses larger than this are refused ("malformed") instead of filling memory. */
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
  now?: () => number;
}

export interface HttpReply {
  status: number | null;
  body: Uint8Array | null;
  retryAfterMs?: number;
  /** Set when no complete response arrived. */
  failure?: { kind: "timeout" | "network" | "malformed"; detail: string };
  startedAt: string;
  ms: number;
}

export const isTimeoutReason = (reason: unknown): boolean =>
  (reason as { name?: unknown } | undefined)?.name === "TimeoutError";

/**
 * One HTTP request with the whole body read. Network faults and timeouts are values; the promise
 * rejects only when `signal` is aborted for a reason other than a timeout (cancellation).
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
  let retryAfter: string | null = null;
  try {
    const res = await fetch(r.url, {
      method: r.method,
      headers: { accept: "application/json", "user-agent": `provmark/${VERSION}`, ...r.headers },
      ...(r.body === undefined ? {} : { body: r.body }),
      redirect: "manual",
      signal,
    });
    status = res.status;
    retryAfter = res.headers.get("retry-after");
    const body = await readCapped(res);
    const retryAfterMs = retryAfter === null ? undefined : parseRetryAfter(retryAfter, now());
    if (body === "too-large") {
      return done({
        status,
        body: null,
        failure: { kind: "malformed", detail: `response larger than ${MAX_RESPONSE_BYTES} bytes` },
      });
    }
    return done({ status, body, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
  } catch (e) {
    if (signal.aborted) {
      if (!isTimeoutReason(signal.reason)) throw signal.reason;
      const detail = (signal.reason as Error).message || "timed out";
      return done({ status, body: null, failure: { kind: "timeout", detail } });
    }
    const where = status === null ? "request failed" : `connection closed while reading the ${status} response`;
    return done({ status, body: null, failure: { kind: "network", detail: `${where}: ${causeText(e)}` } });
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

async function readCapped(res: Response): Promise<Uint8Array | "too-large"> {
  if (res.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let n = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > MAX_RESPONSE_BYTES) {
      await reader.cancel().catch(() => {});
      return "too-large";
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, n);
}

function causeText(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const msg = (e as Error)?.message ?? String(e);
  return cause?.code ?? cause?.message ?? msg;
}

/** Retry-After as milliseconds: delay-seconds or an HTTP date (relative to `nowMs`); undefined if invalid. */
export function parseRetryAfter(value: string, nowMs: number): number | undefined {
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/[a-z]/i.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

export const sha256Hex = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** Replaces every secret (header value) in `text`, so details can be journaled and printed. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join("[redacted]");
  return out;
}

/** `body` with every occurrence of a secret replaced by `[redacted]` (the same array when none occurs). */
export function redactBytes(body: Uint8Array, secrets: readonly string[]): Uint8Array {
  let buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  for (const s of secrets) {
    if (s.length === 0 || buf.indexOf(s) < 0) continue;
    const parts: Buffer[] = [];
    let from = 0;
    for (let at = buf.indexOf(s); at >= 0; at = buf.indexOf(s, from)) {
      parts.push(buf.subarray(from, at), Buffer.from("[redacted]"));
      from = at + Buffer.byteLength(s);
    }
    parts.push(buf.subarray(from));
    buf = Buffer.concat(parts);
  }
  return buf.byteOffset === body.byteOffset && buf.buffer === body.buffer ? body : buf;
}

/**
 * Turns an HTTP reply into the batch outcome: 2xx bodies go to `parse`; other statuses and faults
 * fail every item with one kind. Retryable: network faults, timeouts, 408, 429 and 5xx.
 */
/** The endpoint settings every HTTP adapter carries. */
export interface JsonEndpoint {
  url: string;
  headers: Readonly<Record<string, string>>;
  timeoutMs?: number | undefined;
  now?: (() => number) | undefined;
}

/**
 * Sends one JSON request body to the endpoint and turns the reply into the batch's outcome
 * (per-item results from `parse`, hashes, redacted bodies): the shared tail of every HTTP adapter.
 */
export async function exchangeJson(
  e: JsonEndpoint,
  body: Uint8Array,
  batchSize: number,
  signal: AbortSignal,
  parse: (body: Uint8Array, n: number) => ItemResult[],
  secrets: readonly string[],
  method: HttpRequest["method"] = "POST",
): Promise<BatchOutcome> {
  const reply = await httpRequest({
    url: e.url,
    method,
    headers: { "content-type": "application/json", ...e.headers },
    body,
    signal,
    ...(e.timeoutMs === undefined ? {} : { timeoutMs: e.timeoutMs }),
    ...(e.now === undefined ? {} : { now: e.now }),
  });
  return toOutcome(reply, body, batchSize, parse, secrets);
}

export function toOutcome(
  reply: HttpReply,
  requestBody: Uint8Array,
  batchSize: number,
  parse: (body: Uint8Array, n: number) => ItemResult[],
  secrets: readonly string[],
): BatchOutcome {
  // A server that echoes a credential must not get it into the journal: the stored (and hashed)
  // body has every secret header value (see secretValues) replaced by [redacted].
  const responseBody = reply.body === null ? null : redactBytes(reply.body, secrets);
  const exchange: Exchange = {
    requestSha256: sha256Hex(requestBody),
    responseSha256: responseBody === null ? null : sha256Hex(responseBody),
    status: reply.status,
    startedAt: reply.startedAt,
    ms: reply.ms,
    requestBytes: requestBody.length,
    responseBytes: responseBody?.length ?? 0,
  };
  const base = {
    exchange,
    requestBody,
    responseBody,
    ...(reply.retryAfterMs === undefined ? {} : { retryAfterMs: reply.retryAfterMs }),
  };
  const all = (kind: FailureKind, detail: string): ItemResult[] =>
    Array.from({ length: batchSize }, () => fail(kind, redact(detail, secrets)));
  if (reply.failure !== undefined) {
    const retryable = reply.failure.kind !== "malformed";
    return { ...base, items: all(reply.failure.kind, reply.failure.detail), retryable };
  }
  const status = reply.status as number;
  if (status >= 200 && status < 300) {
    const items = parse(responseBody ?? new Uint8Array(0), batchSize).map((it) =>
      it.ok ? it : { ...it, detail: redact(it.detail, secrets) },
    );
    return { ...base, items, retryable: false };
  }
  const why = `HTTP ${status}${errorText(responseBody)}`;
  if (status === 408) return { ...base, items: all("timeout", why), retryable: true };
  if (status === 429) return { ...base, items: all("rate-limited", why), retryable: true };
  if (status >= 500) return { ...base, items: all("http-5xx", why), retryable: true };
  // 4xx, and 3xx (redirects are not followed: headers must not travel to another URL)
  return {
    ...base,
    items: all("http-4xx", status < 400 ? `${why} (redirects are not followed)` : why),
    retryable: false,
  };
}

/** `: <message>` from an error body ({"error": …} / {"message": …} / text), or nothing. */
export function errorText(body: Uint8Array | null): string {
  if (body === null || body.length === 0) return "";
  const parsed = parseBody(body);
  if (parsed.ok && parsed.value !== null && typeof parsed.value === "object") {
    const o = parsed.value as { error?: unknown; message?: unknown; detail?: unknown };
    const m = [o.error, o.message, o.detail].find((x) => typeof x === "string") as string | undefined;
    if (m !== undefined) return `: ${preview(m, 160)}`;
    if (o.error !== null && typeof o.error === "object") {
      const inner = (o.error as { message?: unknown }).message;
      if (typeof inner === "string") return `: ${preview(inner, 160)}`;
    }
  }
  return `: ${preview(new TextDecoder().decode(body.subarray(0, 400)), 120)}`;
}
