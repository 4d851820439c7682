import { ProvmarkError } from "../../errors.js";
import { redactRpcUrl, redactUrlsIn } from "../redact-rpc-url.js";
import { type Eip1193Provider, EMBEDDED_CHAIN_ID } from "./edr-network.js";
import { RpcError } from "./rpc-error.js";

/**
 * A small EIP-1193 provider over JSON-RPC 2.0 HTTP POST (no batching), used to talk to a running
 * `provmark chain` server. Errors the server returns reject as RpcError `{ code, message, data }`.
 */
export class HttpRpcClient implements Eip1193Provider {
  readonly url: string;
  readonly #timeoutMs: number;
  #nextId = 1;

  constructor(url: string, { timeoutMs = 120_000 }: { timeoutMs?: number } = {}) {
    this.url = url;
    this.#timeoutMs = timeoutMs;
  }

  async request({
    method,
    params,
  }: {
    method: string;
    params?: unknown[] | Record<string, unknown>;
  }): Promise<unknown> {
    const body = JSON.stringify({ jsonrpc: "2.0", id: this.#nextId++, method, params: params ?? [] });
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (e) {
      const shown = redactRpcUrl(this.url);
      throw new ProvmarkError(
        "CHAIN_UNREACHABLE",
        `${shown} did not answer ${method}: ${redactUrlsIn((e as Error).message)}`,
        {
          subject: shown,
          cause: e,
          hints: ["Is the `provmark chain` server still running?"],
        },
      );
    }
    const text = await response.text();
    const shown = redactRpcUrl(this.url);
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch (e) {
      throw new ProvmarkError(
        "CHAIN_RPC_ERROR",
        `${shown} answered ${method} with HTTP ${response.status} and no JSON: ${redactUrlsIn(text.slice(0, 200))}`,
        { subject: shown, cause: e },
      );
    }
    if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
      throw new ProvmarkError(
        "CHAIN_RPC_ERROR",
        `${shown} answered ${method} with ${redactUrlsIn(text.slice(0, 80))}, not a JSON-RPC response object`,
        { subject: shown },
      );
    }
    const { error } = payload as { error?: unknown };
    if (error !== undefined && error !== null) {
      const { code, message, data } = (typeof error === "object" ? error : { message: error }) as {
        code?: unknown;
        message?: unknown;
        data?: unknown;
      };
      throw new RpcError(typeof code === "number" ? code : -32603, String(message ?? "unknown error"), data);
    }
    if (!("result" in payload)) {
      throw new ProvmarkError("CHAIN_RPC_ERROR", `${shown} answered ${method} without a result`, { subject: shown });
    }
    return (payload as { result: unknown }).result;
  }
}

/** Whether `url` answers as the embedded chain (eth_chainId is 31337) within `timeoutMs`. */
export async function probeEmbeddedServer(url: string, timeoutMs = 2_000): Promise<boolean> {
  try {
    const chainId = await new HttpRpcClient(url, { timeoutMs }).request({ method: "eth_chainId" });
    return typeof chainId === "string" && BigInt(chainId) === EMBEDDED_CHAIN_ID;
  } catch {
    return false;
  }
}
