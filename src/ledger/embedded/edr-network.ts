import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { HardhatUserConfig } from "hardhat/types/config";
import { ProvmarkError } from "../../errors.js";
import { DEV_ACCOUNT_BALANCE, DEV_ACCOUNT_KEYS } from "./dev-accounts.js";

/** A minimal EIP-1193 provider: all provmark needs from a chain connection. */
export interface Eip1193Provider {
  request(args: { method: string; params?: unknown[] | Record<string, unknown> }): Promise<unknown>;
}

export const EMBEDDED_CHAIN_ID = 31337n;
export const EMBEDDED_HARDFORK = "cancun";

/** A fresh in-process Hardhat (EDR) network: only its provider and a way to shut it down. */
export interface EdrNetwork {
  provider: Eip1193Provider;
  close(): Promise<void>;
}

let cachedRoot: string | undefined;

/**
 * provmark's package root (the directory of its package.json), found by walking up from this file,
 * which runs from `src/ledger/embedded/` under tsx and `dist/src/ledger/embedded/` when built.
 * Hardhat needs a project root with a package.json; it only reads it.
 */
export function packageRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const p = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown };
      if (p.name === "provmark") {
        cachedRoot = dir;
        return dir;
      }
    } catch {
      // no package.json here
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new ProvmarkError(
        "INTERNAL",
        `cannot find provmark's package.json above ${fileURLToPath(import.meta.url)}`,
      );
    }
    dir = parent;
  }
}

/**
 * Every setting that shapes blocks is pinned (not left to Hardhat's defaults), so a journal replays
 * to the same block hashes after a Hardhat upgrade that changes a default.
 */
function networkConfig(genesisTime: number): HardhatUserConfig {
  const root = packageRoot();
  return {
    networks: {
      embedded: {
        type: "edr-simulated",
        chainId: Number(EMBEDDED_CHAIN_ID),
        networkId: Number(EMBEDDED_CHAIN_ID),
        hardfork: EMBEDDED_HARDFORK,
        initialDate: new Date(genesisTime * 1000),
        accounts: DEV_ACCOUNT_KEYS.map((privateKey) => ({ privateKey, balance: DEV_ACCOUNT_BALANCE })),
        blockGasLimit: 60_000_000n,
        initialBaseFeePerGas: 1_000_000_000n,
        coinbase: "0xc014ba5ec014ba5ec014ba5ec014ba5ec014ba5e",
        minGasPrice: 0n,
        // Blocks mined within one second share it, so that no block is stamped ahead of the wall
        // clock: a registration mined in a burst must not appear to follow a run that started later.
        allowBlocksWithSameTimestamp: true,
        allowUnlimitedContractSize: false,
        mining: { auto: true, interval: 0 },
        throwOnCallFailures: true,
        throwOnTransactionFailures: true,
        loggingEnabled: false,
      },
    },
    // Hardhat loads every build info under `artifacts` to decode reverts; in a development checkout
    // that costs ~0.2 s per network and makes error messages differ from an installed provmark
    // (which ships no artifacts). Pointing both at a path that is never created reads and writes
    // nothing there.
    paths: {
      artifacts: join(root, ".provmark-embedded-chain-no-artifacts"),
      cache: join(root, ".provmark-embedded-chain-no-cache"),
    },
  };
}

/**
 * Starts an in-process EDR network whose genesis block has timestamp `genesisTime` (unix seconds),
 * with the 20 funded dev accounts and automine. Nothing is written to disk.
 */
export async function createEdrNetwork(genesisTime: number): Promise<EdrNetwork> {
  const { createHardhatRuntimeEnvironment } = await import("hardhat/hre");
  const hre = await createHardhatRuntimeEnvironment(networkConfig(genesisTime), {}, packageRoot());
  const connection = await hre.network.connect({ network: "embedded" });
  return {
    provider: connection.provider,
    close: () => connection.close(),
  };
}
