/**
 * An EIP-1193 / JSON-RPC error: what `request` rejects with when the chain refuses a call, and the
 * shape the JSON-RPC server and client carry over HTTP (`{ code, message, data }`).
 */
export class RpcError extends Error {
  override readonly name = "RpcError";
  readonly code: number;
  readonly data: unknown;

  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.code = code;
    this.data = data;
  }
}

/** JSON-RPC 2.0 and EIP-1193 codes used here. */
export const RpcCode = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internal: -32603,
  /** EIP-1193: the method is not authorised (a read-only connection asked to send). */
  unauthorized: 4100,
  /** EIP-1193: the provider is disconnected (closed). */
  disconnected: 4900,
} as const;

/** Refusal of a method whose effect a journal of signed transactions cannot replay. */
export function unreplayableMethod(method: string, why?: string): RpcError {
  return new RpcError(
    RpcCode.methodNotFound,
    `${method} is not supported by provmark's persistent dev chain: ${why ?? "its effect cannot be replayed from the chain's journal of signed transactions"}`,
  );
}

/** Refusal of a state-changing method on a connection opened with access "read". */
export function readOnlyRefusal(method: string): RpcError {
  return new RpcError(
    RpcCode.unauthorized,
    `${method} is refused: this connection to the embedded chain was opened read-only (access "read")`,
  );
}
