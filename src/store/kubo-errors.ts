import { ProvmarkError } from "../errors.js";

/** Errors of a TCP connection that never got an HTTP answer: the daemon is down or the URL is wrong. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "EPIPE",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);

const KUBO_HINTS = [
  "Is `ipfs daemon` running? Start it, or check which address its RPC API listens on (`ipfs config Addresses.API`).",
  "Pass that URL with --ipfs-api (or PROVMARK_IPFS_API), e.g. http://127.0.0.1:5001.",
];

/** Messages Kubo gives for content it does not have (locally, or within the timeout). */
const NOT_FOUND = /not found|could not find|no link named|context deadline exceeded|timed? ?out/i;

function networkCode(e: unknown): string | undefined {
  for (let c: unknown = e, depth = 0; c && depth < 4; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return code;
  }
  return undefined;
}

export interface KuboCall {
  /** The RPC API URL, for messages. */
  url: string;
  /** The command, as in `/api/v0/<op>`. */
  op: string;
  /** For reads: the CID, whose absence is IPFS_NOT_FOUND rather than an API error. */
  cid?: string;
  /** The time limit the call had, if any. */
  timeoutMs?: number;
}

/**
 * Maps what kubo-rpc-client throws to provmark codes: no connection is IPFS_UNREACHABLE, an HTTP error
 * answer is IPFS_API_ERROR with the daemon's own message, a read that finds nothing in time is
 * IPFS_NOT_FOUND.
 */
export function kuboError(e: unknown, call: KuboCall): ProvmarkError {
  if (e instanceof ProvmarkError) return e;
  const { url, op, cid, timeoutMs } = call;
  const err = e as Error & { response?: { status?: number } };
  const message = err?.message ?? String(e);
  // kubo-rpc-client throws HTTPError for an error answer, TimeoutError when Kubo's message says it timed out
  const status = err?.name === "HTTPError" ? err.response?.status : undefined;
  const timedOut = err?.name === "TimeoutError" || err?.name === "AbortError";
  const within = timeoutMs === undefined ? "" : ` within ${timeoutMs} ms`;
  if (status === 404) {
    return new ProvmarkError("IPFS_API_ERROR", `${url} has no /api/v0/${op} (HTTP 404): is it a Kubo RPC API?`, {
      subject: url,
      cause: e,
      hints: ["The RPC API is on port 5001 by default; the gateway (port 8080) does not serve it."],
    });
  }
  if (cid && (timedOut || (status !== undefined && NOT_FOUND.test(message)))) {
    return new ProvmarkError("IPFS_NOT_FOUND", `the Kubo daemon at ${url} could not find ${cid}${within}`, {
      subject: cid,
      cause: e,
      hints: [
        "Check the CID. If it is right, no reachable peer provides it: pin it on a node that stays online.",
        "Allow longer with a larger timeout if the content is large or far away.",
      ],
    });
  }
  if (timedOut) {
    return new ProvmarkError("IPFS_UNREACHABLE", `the Kubo RPC API at ${url} timed out answering ${op}${within}`, {
      subject: url,
      cause: e,
      hints: KUBO_HINTS,
    });
  }
  const code = networkCode(e);
  if (code || (err?.name === "TypeError" && message === "fetch failed")) {
    return new ProvmarkError("IPFS_UNREACHABLE", `cannot reach the Kubo RPC API at ${url} (${code ?? message})`, {
      subject: url,
      cause: e,
      hints: KUBO_HINTS,
    });
  }
  if (status !== undefined) {
    return new ProvmarkError("IPFS_API_ERROR", `the Kubo daemon at ${url} refused ${op} (HTTP ${status}): ${message}`, {
      subject: url,
      cause: e,
      hints: ["The message above is the daemon's own; its log (`ipfs log tail`) may say more."],
    });
  }
  return new ProvmarkError("IPFS_API_ERROR", `unexpected answer from ${url} to ${op}: ${message}`, {
    subject: url,
    cause: e,
    hints: ["Check that the URL is a Kubo RPC API (`curl -X POST <url>/api/v0/version`)."],
  });
}
