/**
 * The embedded persistent dev chain: with no RPC URL configured, provmark keeps a local chain in
 * `<dataDir>/chain` whose state survives between commands. Its journal of signed transactions and
 * block timestamps is replayed into Hardhat's in-process (EDR) network when a command opens it.
 */
export { DEV_ACCOUNT_KEYS, DEV_MNEMONIC } from "./dev-accounts.js";
export { type Eip1193Provider, EMBEDDED_CHAIN_ID } from "./edr-network.js";
export {
  type EmbeddedChain,
  lastReplayStats,
  type OpenEmbeddedChainOptions,
  openEmbeddedChain,
  type ReplayStats,
} from "./embedded-chain.js";
export { JOURNAL_FILE, JOURNAL_FORMAT } from "./journal.js";
export { LOCK_FILE } from "./lock.js";
export { RpcError } from "./rpc-error.js";
export { type EmbeddedChainServer, type ServeEmbeddedChainOptions, serveEmbeddedChain } from "./rpc-server.js";
