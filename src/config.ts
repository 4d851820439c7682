import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** Where provmark keeps its state: flag, then PROVMARK_HOME, then ~/.provmark. */
export function dataDir(flag?: string): string {
  if (flag) return resolve(flag);
  if (process.env.PROVMARK_HOME) return resolve(process.env.PROVMARK_HOME);
  return join(homedir(), ".provmark");
}

export interface Settings {
  dataDir: string;
  chain: { mode: "embedded" | "rpc"; rpcUrl: string | null; stateDir: string };
  ipfs: { mode: "embedded" | "kubo"; apiUrl: string | null; blockstoreDir: string };
}

/** The settings commands will use, from flags, then environment; reads nothing from disk. */
export function settings(flags: { dataDir?: string; rpc?: string; ipfsApi?: string } = {}): Settings {
  const dir = dataDir(flags.dataDir);
  const rpcUrl = flags.rpc || process.env.PROVMARK_RPC_URL || null;
  const apiUrl = flags.ipfsApi || process.env.PROVMARK_IPFS_API || null;
  return {
    dataDir: dir,
    chain: { mode: rpcUrl ? "rpc" : "embedded", rpcUrl, stateDir: join(dir, "chain") },
    ipfs: { mode: apiUrl ? "kubo" : "embedded", apiUrl, blockstoreDir: join(dir, "ipfs") },
  };
}
