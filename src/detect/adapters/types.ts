/**
 * The transport side of theft detection: a suspect model behind some protocol answers batches of
 * query images. Adapters never throw for endpoint faults; they report them per item as failures,
 * so a flaky endpoint is counted (never mistaken for a wrong answer).
 */

/** One query image, H×W×C uint8 pixels, row-major, channels last. */
export interface QueryInput {
  id: string;
  pixels: Uint8Array;
  shape: readonly [number, number, number];
}

/** Why an item got no usable answer. */
export type FailureKind =
  | "timeout"
  | "network"
  | "http-4xx"
  | "http-5xx"
  | "rate-limited"
  | "malformed"
  | "short"
  | "nonfinite"
  | "unknown-class";

export const FAILURE_KINDS: readonly FailureKind[] = [
  "timeout",
  "network",
  "http-4xx",
  "http-5xx",
  "rate-limited",
  "malformed",
  "short",
  "nonfinite",
  "unknown-class",
];

/** The answer for one query: a class index (and the scores it came from, when the suspect gave them). */
export type ItemResult =
  | { ok: true; label: number; scores?: number[] }
  | { ok: false; failure: FailureKind; detail: string };

/** How a response body came: what a verifier needs to read the stored bytes as the adapter did. */
export interface ResponseMeta {
  /** The Content-Encoding header (e.g. "gzip"), undone before parsing; null for none. */
  encoding: string | null;
  /** The headers that date and identify the answer. */
  headers: { date: string | null; server: string | null; contentType: string | null };
  /** Why the body is not stored (its hash still is): it held a secret sent in a request header. */
  withheld?: string;
}

/** What was exchanged with the suspect for one batch (the final attempt), for the evidence record. */
export interface Exchange {
  /** SHA-256 (hex) of the request body exactly as sent. */
  requestSha256: string;
  /** SHA-256 (hex) of the response body as received (before any decoding); null when none arrived. */
  responseSha256: string | null;
  /** Encoding and headers of the response; absent for local models and when no response arrived. */
  response?: ResponseMeta;
  /** HTTP status; null for network failures, timeouts and the local adapter. */
  status: number | null;
  /** ISO 8601 time the request started. */
  startedAt: string;
  ms: number;
  requestBytes: number;
  responseBytes: number;
}

export interface BatchOutcome {
  /** Same length and order as the batch. */
  items: ItemResult[];
  exchange: Exchange;
  /** Raw bodies, so an auditor can re-parse them: the response as received (null when none, or withheld). */
  requestBody: Uint8Array;
  responseBody: Uint8Array | null;
  /** True for network errors, timeouts, 408, 429 and 5xx: sending the batch again may succeed. */
  retryable: boolean;
  /** From a Retry-After header, in milliseconds (not capped here). */
  retryAfterMs?: number;
}

/** "url": a model fetched from a web server, then run like "local". */
export type SuspectProtocol = "tfserving" | "kserve" | "json" | "raw" | "local" | "url";

/**
 * How a query goes on the wire: `tensor`, the model's numbers (the certificate's preprocessing);
 * `png`, the uint8 pixels losslessly encoded (the server decodes and preprocesses); `jpeg`, lossy.
 */
export type WireEncoding = "tensor" | "png" | "jpeg";
export const WIRE_ENCODINGS: readonly WireEncoding[] = ["tensor", "png", "jpeg"];

export interface SuspectAdapter {
  readonly protocol: SuspectProtocol;
  /** For reports: URL without credentials/query, or the local path. */
  readonly target: string;
  readonly maxBatch: number;
  /** How queries go on the wire (absent: tensors). */
  readonly encoding?: WireEncoding;
  /**
   * Sends one batch. Resolves with per-item results for every endpoint fault (including a timeout:
   * `signal` aborted with a `TimeoutError` reason). Rejects only when `signal` is aborted for any
   * other reason (cancellation: nothing was answered), or for a programming error.
   */
  send(batch: readonly QueryInput[], signal: AbortSignal): Promise<BatchOutcome>;
  /** Re-derives item results from a stored response body (evidence re-check, no network). */
  parse(responseBody: Uint8Array, batchSize: number): ItemResult[];
  close(): Promise<void>;
}
