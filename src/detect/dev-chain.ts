import { computeAddress } from "ethers";
import { DEV_ACCOUNT_KEYS } from "../ledger/embedded/dev-accounts.js";
import type { Ledger } from "../ledger/open-ledger.js";

/** How evidence from a development chain is labelled, in text, `--json` and HTML alike. */
export const DEV_CHAIN_LABEL = "dev chain: not independent evidence";

/** Hardhat's and Ganache's default chain ids (the embedded chain is 31337). */
const DEV_CHAIN_IDS = new Set(["31337", "1337"]);

/**
 * Why the chain a report names is a dev chain, from the report alone (its chain id, or the embedded
 * chain's location), or null. `devChainReason` asks the chain itself and catches more.
 */
export function devChainFromReport(onChain: { chainId: string; rpc: string } | null): string | null {
  if (onChain === null) return null;
  if (DEV_CHAIN_IDS.has(onChain.chainId)) return `chain id ${onChain.chainId} is a local development chain's`;
  if (onChain.rpc.startsWith("embedded chain")) return "the report was anchored on provmark's embedded dev chain";
  return null;
}

/**
 * Why the chain behind `ledger` is a dev chain, or null: anyone can rewrite such a chain, so its
 * records date nothing. Dev chains are recognised by chain id, by being the embedded chain, and by
 * their genesis: Hardhat's well-known dev accounts (whose keys are public) funded in block 0, which
 * is the embedded chain's genesis state and any Hardhat or Anvil node's, whatever its chain id.
 */
export async function devChainReason(ledger: Pick<Ledger, "chainId" | "mode" | "provider">): Promise<string | null> {
  if (ledger.mode === "embedded") return "it is provmark's embedded dev chain";
  if (DEV_CHAIN_IDS.has(ledger.chainId.toString())) return `chain id ${ledger.chainId} is a local development chain's`;
  const dev = computeAddress(DEV_ACCOUNT_KEYS[0] as string);
  // a node that keeps no state of block 0 (not an archive node) cannot tell: no label, not an error
  const balance = await ledger.provider.getBalance(dev, 0).catch(() => 0n);
  return balance > 0n ? `its genesis funds the public dev account ${dev}, like the embedded dev chain's` : null;
}
