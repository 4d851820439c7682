import { isIP } from "node:net";
import type { Eip1193Provider } from "./edr-network.js";
import { RpcCode, RpcError } from "./rpc-error.js";

/**
 * Methods the node answers with its own (dev) keys. Anyone who can reach a server that answers them
 * spends from, and signs as, the dev accounts; a server reachable from other machines refuses them.
 */
const NODE_SIGNING_METHODS: ReadonlySet<string> = new Set([
  "eth_sendTransaction",
  "eth_sign",
  "eth_signTransaction",
  "eth_signTypedData",
  "eth_signTypedData_v1",
  "eth_signTypedData_v3",
  "eth_signTypedData_v4",
  "personal_sign",
]);

/** Whether `host` only accepts connections from this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (h === "localhost") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || /^::ffff:127\./.test(h);
  return false;
}

/**
 * `inner` without unlocked accounts: node-side signing is refused and eth_accounts is empty, so only
 * transactions signed by their senders (eth_sendRawTransaction) go through.
 */
export function lockedAccountsProvider(inner: Eip1193Provider): Eip1193Provider {
  return {
    request(args) {
      if (args.method === "eth_accounts") return Promise.resolve([]);
      if (NODE_SIGNING_METHODS.has(args.method) || args.method.startsWith("personal_")) {
        return Promise.reject(
          new RpcError(
            RpcCode.unauthorized,
            `${args.method} is refused: this chain server has no unlocked accounts (served with --allow-remote); sign locally and use eth_sendRawTransaction`,
          ),
        );
      }
      return inner.request(args);
    },
  };
}
