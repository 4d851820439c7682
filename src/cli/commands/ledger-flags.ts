import { settings } from "../../config.js";
import { ProvmarkError } from "../../errors.js";
import type { LedgerOptions } from "../../ledger/open-ledger.js";
import type { StoreSettings } from "../../store/open-store.js";
import type { GlobalOptions } from "../program.js";

/** Flags shared by the commands that touch the chain and IPFS (see program.ts `withLedgerFlags`). */
export interface LedgerFlags {
  rpc?: string;
  registry?: string;
  chainId?: string;
  keystore?: string;
  confirmations?: number;
  ipfsApi?: string;
  /** The model namespace's owner: expected by readers, registered under by writers (default: the signer). */
  owner?: string;
  json?: boolean;
}

/**
 * `--owner` (else PROVMARK_OWNER) as a 0x address, or null. Anyone can register any digest under their
 * own namespace, so a lookup is only as good as the owner it is checked against.
 */
export function ownerFlag(flags: LedgerFlags): string | null {
  const owner = flags.owner ?? process.env.PROVMARK_OWNER;
  if (owner === undefined || owner === "") return null;
  if (!/^0x[0-9a-fA-F]{40}$/.test(owner)) {
    throw new ProvmarkError("USAGE", `--owner must be a 0x-prefixed address, got ${owner}`, { subject: "--owner" });
  }
  return owner;
}

/** The loud line for a lookup that was not checked against an expected owner. */
export const unchecked = (registrant: string) =>
  `registered by ${registrant} — not checked against an expected owner (pass --owner <address>)`;

export function ledgerOptions(flags: LedgerFlags, globals: GlobalOptions): Omit<LedgerOptions, "access"> {
  const s = settings({
    ...(globals.dataDir ? { dataDir: globals.dataDir } : {}),
    ...(flags.rpc ? { rpc: flags.rpc } : {}),
  });
  const registry = flags.registry ?? process.env.PROVMARK_REGISTRY;
  let expectChainId: bigint | undefined;
  if (flags.chainId !== undefined) {
    if (!/^\d+$/.test(flags.chainId)) {
      throw new ProvmarkError("USAGE", `--chain-id must be a decimal chain id, got ${flags.chainId}`, {
        subject: "--chain-id",
      });
    }
    expectChainId = BigInt(flags.chainId);
  }
  return {
    dataDir: s.dataDir,
    rpcUrl: s.chain.rpcUrl,
    ...(registry ? { registry } : {}),
    ...(expectChainId === undefined ? {} : { expectChainId }),
    ...(flags.keystore ? { signer: { keystore: flags.keystore } } : {}),
    confirmations: flags.confirmations ?? 1,
  };
}

export function storeSettings(flags: LedgerFlags, globals: GlobalOptions): StoreSettings {
  const s = settings({
    ...(globals.dataDir ? { dataDir: globals.dataDir } : {}),
    ...(flags.ipfsApi ? { ipfsApi: flags.ipfsApi } : {}),
  });
  return s.ipfs.mode === "kubo" && s.ipfs.apiUrl
    ? { mode: "kubo", apiUrl: s.ipfs.apiUrl }
    : { mode: "embedded", blockstoreDir: s.ipfs.blockstoreDir };
}

/** Unix seconds as ISO 8601 (UTC). */
export const iso = (seconds: number | null) => (seconds === null ? null : new Date(seconds * 1000).toISOString());
