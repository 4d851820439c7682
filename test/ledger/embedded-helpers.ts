import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BrowserProvider, ContractFactory, type InterfaceAbi, Network, Wallet } from "ethers";
import { afterAll } from "vitest";
import { DEV_ACCOUNT_KEYS, type EmbeddedChain } from "../../src/ledger/embedded/index.js";

const roots: string[] = [];
afterAll(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

/** A fresh, not yet existing state dir under a temp dir removed after the file's tests. */
export async function tempStateDir(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "provmark-chain-test-"));
  roots.push(root);
  return join(root, "chain");
}

/**
 * ethers over the chain's EIP-1193 provider. `cacheTimeout: -1`: ethers otherwise shares identical
 * requests for 250 ms, so a second transaction sent right after the first gets the same nonce.
 */
export function ethersProvider(chain: EmbeddedChain): BrowserProvider {
  return new BrowserProvider(chain.provider, Network.from(chain.chainId), { cacheTimeout: -1, pollingInterval: 20 });
}

export function devWallet(provider: BrowserProvider, index = 0): Wallet {
  return new Wallet(DEV_ACCOUNT_KEYS[index] as string, provider);
}

/** DigestAnchor (built by the global setup): anchor(bytes32) stores (msg.sender, block.timestamp). */
export function digestAnchorFactory(runner: Wallet): ContractFactory {
  const artifact = JSON.parse(
    readFileSync(new URL("../../artifacts/contracts/DigestAnchor.sol/DigestAnchor.json", import.meta.url), "utf8"),
  ) as { abi: InterfaceAbi; bytecode: string };
  return new ContractFactory(artifact.abi, artifact.bytecode, runner);
}

export const journalFile = (stateDir: string) => join(stateDir, "journal.jsonl");

export async function journalLines(stateDir: string): Promise<string[]> {
  const text = await readFile(journalFile(stateDir), "utf8");
  return text.split("\n").filter((l) => l !== "");
}

/** The rejection of `p` (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await p;
  } catch (e) {
    return e as Error & Record<string, unknown>;
  }
  throw new Error("expected a rejection");
}
