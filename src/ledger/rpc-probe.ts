import { ProvmarkError } from "../errors.js";
import { redactRpcUrl, redactUrlsIn } from "./redact-rpc-url.js";

/** Validates an RPC URL flag: http(s) only (websocket endpoints are not supported). */
export function parseRpcUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ProvmarkError("USAGE", `--rpc must be an http(s) URL, got ${JSON.stringify(url)}`, {
      subject: "--rpc",
      hints: ["For a local node: --rpc http://127.0.0.1:8545"],
    });
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new ProvmarkError("USAGE", `--rpc must use http or https, got ${u.protocol}`, { subject: "--rpc" });
  }
  return u;
}

/**
 * Asks the endpoint for its chain id with a timeout, so a dead URL fails fast with a coded error
 * instead of ethers' endless "failed to detect network" retries.
 */
export async function probeChainId(url: string, timeoutMs: number): Promise<bigint> {
  const shown = redactRpcUrl(url);
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const why = (e as Error).name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : causeText(e);
    throw new ProvmarkError("CHAIN_UNREACHABLE", `the JSON-RPC endpoint ${shown} is unreachable: ${why}`, {
      subject: shown,
      cause: e,
      hints: [
        "Is the node running? For a local one: `provmark chain` or `npx hardhat node`.",
        "Check the --rpc URL (or PROVMARK_RPC_URL); omit it to use the embedded chain.",
      ],
    });
  }
  const text = await res.text().catch(() => "");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  // a body may be any JSON (null, a number, an array): only an object's fields are read
  const o = body !== null && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const result = o.result;
  if (!res.ok || typeof result !== "string" || !/^0x[0-9a-f]+$/i.test(result)) {
    const message = (o.error as { message?: unknown } | null | undefined)?.message;
    const detail = typeof message === "string" ? message : `HTTP ${res.status}${text ? `: ${text.slice(0, 120)}` : ""}`;
    throw new ProvmarkError(
      "CHAIN_RPC_ERROR",
      `${shown} is not an EVM JSON-RPC endpoint (eth_chainId: ${redactUrlsIn(detail)})`,
      {
        subject: shown,
        hints: ["Check the URL's path: providers often need /v3/<key> or similar."],
      },
    );
  }
  return BigInt(result);
}

function causeText(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return redactUrlsIn(cause?.code ?? cause?.message ?? (e as Error).message);
}
