import { ProvmarkError } from "../../errors.js";
import { displayTarget } from "../adapters/endpoint.js";
import { type HttpReply, httpRequest } from "../adapters/http-request.js";

export interface FetchOptions {
  /** Largest body accepted, as received and decoded. */
  maxBytes: number;
  timeoutMs: number;
  headers: Readonly<Record<string, string>>;
  signal: AbortSignal;
  /** What the file is, for messages ("model.json", "weight shard group1-shard1of2.bin"). */
  what: string;
}

export interface FetchedFile {
  /** The URL that answered (after same-origin redirects), without its query. */
  url: string;
  /** The URLs that redirected to it, in order. */
  redirectedFrom: string[];
  reply: HttpReply;
}

const MAX_REDIRECTS = 5;
const REDIRECT = new Set([301, 302, 303, 307, 308]);

/**
 * GETs one file, following redirects only within the first URL's origin: headers (which may carry
 * credentials) must not travel elsewhere, and evidence about a thief's site must come from that site.
 * Timeouts, network faults, oversized bodies and cross-origin redirects are coded errors; any final
 * status is returned for the caller to judge.
 */
export async function fetchSameOrigin(start: URL, o: FetchOptions): Promise<FetchedFile> {
  const redirectedFrom: string[] = [];
  let url = start;
  for (let hop = 0; ; hop++) {
    const reply = await httpRequest({
      url: url.toString(),
      method: "GET",
      headers: { accept: "*/*", ...o.headers },
      signal: o.signal,
      timeoutMs: o.timeoutMs,
      maxBytes: o.maxBytes,
    });
    const shown = displayTarget(url);
    if (reply.tooLarge) {
      throw new ProvmarkError("SUSPECT_URL_TOO_LARGE", `${o.what} at ${shown} is larger than ${o.maxBytes} bytes`, {
        subject: shown,
        hints: ["Raise --max-download if the model is really that large; nothing was kept."],
      });
    }
    if (reply.failure?.kind === "timeout") {
      throw new ProvmarkError("SUSPECT_URL_TIMEOUT", `${o.what} at ${shown}: ${reply.failure.detail}`, {
        subject: shown,
        hints: ["Raise --timeout (per request, in ms), or retry when the site is less busy."],
      });
    }
    if (reply.failure !== undefined) {
      throw new ProvmarkError("SUSPECT_URL_UNREACHABLE", `${o.what} at ${shown}: ${reply.failure.detail}`, {
        subject: shown,
        hints: ["Check the URL opens in a browser from this machine (DNS, proxy, firewall)."],
      });
    }
    if (reply.status === null || !REDIRECT.has(reply.status) || reply.location === undefined) {
      return { url: shown, redirectedFrom, reply };
    }
    const next = new URL(reply.location, url);
    if (next.origin !== start.origin) {
      throw new ProvmarkError(
        "SUSPECT_URL_CROSS_ORIGIN",
        `${o.what} at ${shown} redirects to another origin: ${start.origin} → ${next.origin}`,
        {
          subject: shown,
          hints: [
            `If ${next.origin} is where the model really lives, pass its URL as --endpoint.`,
            "Redirects are followed only within one origin, so the evidence names the site that served the model.",
          ],
        },
      );
    }
    if (hop + 1 >= MAX_REDIRECTS) {
      throw new ProvmarkError(
        "SUSPECT_URL_HTTP_STATUS",
        `${o.what} at ${shown}: more than ${MAX_REDIRECTS} redirects`,
        {
          subject: shown,
        },
      );
    }
    redirectedFrom.push(shown);
    url = next;
  }
}
