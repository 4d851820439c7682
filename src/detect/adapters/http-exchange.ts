import { createHash } from "node:crypto";
import { type HttpReply, type HttpRequest, httpRequest } from "./http-request.js";
import { parseBody, preview } from "./lenient-json.js";
import { fail } from "./read-answer.js";
import type { BatchOutcome, Exchange, FailureKind, ItemResult } from "./types.js";

export {
  type HttpReply,
  type HttpRequest,
  httpRequest,
  isTimeoutReason,
  MAX_RESPONSE_BYTES,
  parseRetryAfter,
} from "./http-request.js";

export const sha256Hex = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** Replaces every secret (header value) in `text`, so details can be journaled and printed. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join("[redacted]");
  return out;
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
  // The hash is of the bytes as received, before decoding; they are kept as they came. A server
  // that echoes a credential must not get it into the journal, and editing the bytes would break
  // their hash: such a body is withheld (its hash stays, so the answer is reported as unverifiable).
  const raw = reply.raw;
  const echoed = raw !== null && secrets.some((s) => s.length > 0 && (contains(raw, s) || contains(reply.body, s)));
  const response =
    reply.response === undefined
      ? undefined
      : echoed
        ? { ...reply.response, withheld: "the body held a secret sent in a request header" }
        : reply.response;
  const exchange: Exchange = {
    requestSha256: sha256Hex(requestBody),
    responseSha256: raw === null ? null : sha256Hex(raw),
    ...(response === undefined ? {} : { response }),
    status: reply.status,
    startedAt: reply.startedAt,
    ms: reply.ms,
    requestBytes: requestBody.length,
    responseBytes: raw?.length ?? 0,
  };
  const base = {
    exchange,
    requestBody,
    responseBody: echoed ? null : raw,
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
    if (reply.body === null)
      return { ...base, items: all("malformed", reply.undecodable ?? "no body"), retryable: false };
    const items = parse(reply.body, batchSize).map((it) =>
      it.ok ? it : { ...it, detail: redact(it.detail, secrets) },
    );
    return { ...base, items, retryable: false };
  }
  const why = `HTTP ${status}${errorText(reply.body)}`;
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

const contains = (body: Uint8Array | null, s: string) =>
  body !== null && Buffer.from(body.buffer, body.byteOffset, body.byteLength).includes(s);

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
