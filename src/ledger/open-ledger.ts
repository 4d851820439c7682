import { join } from "node:path";
import {
  BrowserProvider,
  type JsonRpcApiProvider,
  JsonRpcProvider,
  Network,
  type Provider,
  parseEther,
  Wallet,
} from "ethers";
import { ProvmarkError } from "../errors.js";
import { ledgerError } from "./decode-error.js";
import { deployRegistry } from "./deploy.js";
import { type Deployment, deploymentPath, readDeployment, writeDeployment } from "./deployments.js";
import { redactRpcUrl } from "./redact-rpc-url.js";
import { RegistryClient } from "./registry-client.js";
import { parseRpcUrl, probeChainId } from "./rpc-probe.js";
import { loadSigner, type SignerSource } from "./signer.js";

export interface LedgerOptions {
  /** provmark's data dir: the embedded chain lives in `<dataDir>/chain`, RPC deployments in `<dataDir>/deployments`. */
  dataDir: string;
  /** Any EVM JSON-RPC URL; null/undefined means the embedded persistent chain. */
  rpcUrl?: string | null;
  /** Registry address, overriding the recorded deployment. */
  registry?: string;
  /** Refuse an endpoint serving another chain. */
  expectChainId?: bigint;
  signer?: SignerSource;
  access: "read" | "write";
  confirmations?: number;
  txTimeoutMs?: number;
  rpcTimeoutMs?: number;
}

export interface Ledger {
  mode: "embedded" | "rpc";
  /** Where the chain is, for messages and outputs (credentials stripped). */
  rpc: string;
  chainId: bigint;
  /** Null only when reading an embedded chain that has no registry yet (nothing was ever registered). */
  registry: RegistryClient | null;
  /** For reads the registry client does not wrap (blocks, receipts, balances); errors go through ledgerError. */
  provider: Provider;
  deployment: Deployment | null;
  signer: string | null;
  close(): Promise<void>;
}

/** Connects to the configured chain and its registry (deploying one on a fresh embedded chain). */
export async function openLedger(o: LedgerOptions): Promise<Ledger> {
  return o.rpcUrl ? openRpc(o, o.rpcUrl) : openEmbedded(o);
}

async function openEmbedded(o: LedgerOptions): Promise<Ledger> {
  const stateDir = join(o.dataDir, "chain");
  const { openEmbeddedChain, DEV_ACCOUNT_KEYS } = await import("./embedded/index.js");
  const chain = await openEmbeddedChain({ stateDir, access: o.access });
  try {
    if (chain.servedBy) {
      // a `provmark chain` server holds the chain: talk to it like any RPC, keep the embedded records
      const ledger = await openRpc(o, chain.servedBy, stateDir, "embedded", DEV_ACCOUNT_KEYS[0]);
      const close = ledger.close;
      const closeBoth = async () => {
        await close();
        await chain.close();
      };
      return { ...ledger, close: closeBoth };
    }
    const provider = new BrowserProvider(chain.provider, Network.from(chain.chainId), {
      pollingInterval: 50,
      cacheTimeout: -1,
    });
    const rpc = `embedded chain in ${stateDir}`;
    const dev = new Wallet(DEV_ACCOUNT_KEYS[0] as string, provider);
    const own = await loadSigner(o.signer ?? {});
    const signer = own ? own.connect(provider) : dev;
    // --registry names the registry on the embedded chain too (a verifier's own choice)
    const chosen = o.registry === undefined ? null : await checkRegistryAddress(o.registry, provider, chain.chainId);
    let deployment = chosen === null ? await readDeployment(stateDir, chain.chainId) : null;
    if (deployment && (await provider.getCode(deployment.address)) === "0x") deployment = null;
    const close = async () => {
      provider.destroy();
      await chain.close();
    };
    if (o.access === "write") {
      if (own && (await provider.getBalance(own.address)) === 0n) {
        // dev chain only: fund a user-supplied key so it can pay gas, like a faucet would
        const tx = await dev.sendTransaction({ to: own.address, value: parseEther("100") });
        await tx.wait();
      }
      if (!deployment && chosen === null) {
        deployment = await deployRegistry(dev, provider, { confirmations: 1, rpc, txTimeoutMs: 60_000 });
        await writeDeployment(stateDir, deployment);
      }
    }
    const address = chosen ?? deployment?.address;
    const registry = address
      ? new RegistryClient({
          address,
          runner: o.access === "write" ? signer : provider,
          fromBlock: deployment?.blockNumber ?? 0,
          rpc,
          confirmations: 1,
        })
      : null;
    return {
      mode: "embedded",
      rpc,
      chainId: chain.chainId,
      registry,
      provider,
      deployment,
      signer: o.access === "write" ? signer.address : null,
      close,
    };
  } catch (e) {
    await chain.close();
    throw e;
  }
}

async function openRpc(
  o: LedgerOptions,
  url: string,
  deploymentsDir = o.dataDir,
  mode: "embedded" | "rpc" = "rpc",
  /** The dev account that signs for a served embedded chain when the user gives no key. */
  devKey?: string,
): Promise<Ledger> {
  parseRpcUrl(url);
  const rpc = redactRpcUrl(url);
  const chainId = await probeChainId(url, o.rpcTimeoutMs ?? 10_000);
  if (o.expectChainId !== undefined && o.expectChainId !== chainId) {
    throw new ProvmarkError("CHAIN_ID_MISMATCH", `${rpc} serves chain ${chainId}, not ${o.expectChainId}`, {
      subject: rpc,
      hints: ["Point --rpc at the intended network, or drop --chain-id."],
    });
  }
  const provider: JsonRpcApiProvider = new JsonRpcProvider(url, Network.from(chainId), {
    staticNetwork: Network.from(chainId),
    pollingInterval: 1000,
    // ethers caches identical reads for 250 ms: a nonce read right after a transaction would be stale
    cacheTimeout: -1,
  });
  try {
    const signer =
      o.access === "write" ? ((await loadSigner(o.signer ?? {})) ?? (devKey ? new Wallet(devKey) : null)) : null;
    if (o.access === "write" && !signer) {
      throw new ProvmarkError("CHAIN_SIGNER_MISSING", `writing to ${rpc} needs a signer`, {
        hints: [
          "Set PROVMARK_PRIVATE_KEY (hex), or pass --keystore <file> (passphrase from PROVMARK_KEYSTORE_PASSPHRASE).",
          "`provmark account new --out <file>` creates an encrypted keystore.",
        ],
      });
    }
    const wallet = signer?.connect(provider) ?? null;
    const deployment = await resolveDeployment(o, provider, chainId, deploymentsDir, rpc);
    const address = o.registry ?? deployment?.address;
    if (!address) {
      throw new ProvmarkError("REGISTRY_NOT_DEPLOYED", `no ProvenanceRegistry is recorded for chain ${chainId}`, {
        subject: deploymentPath(deploymentsDir, chainId),
        hints: [
          `Deploy one: provmark deploy --rpc ${rpc}`,
          "Or name an existing one: --registry <address> (or PROVMARK_REGISTRY).",
        ],
      });
    }
    const registry = new RegistryClient({
      address,
      runner: wallet ?? provider,
      fromBlock: deployment?.blockNumber ?? 0,
      rpc,
      confirmations: o.confirmations ?? 1,
      txTimeoutMs: o.txTimeoutMs,
    });
    return {
      mode,
      rpc,
      chainId,
      registry,
      provider,
      deployment,
      signer: wallet?.address ?? null,
      close: async () => provider.destroy(),
    };
  } catch (e) {
    provider.destroy();
    throw e;
  }
}

async function resolveDeployment(
  o: LedgerOptions,
  provider: JsonRpcApiProvider,
  chainId: bigint,
  dir: string,
  rpc: string,
): Promise<Deployment | null> {
  try {
    if (o.registry) {
      await checkRegistryAddress(o.registry, provider, chainId);
      return null;
    }
    const d = await readDeployment(dir, chainId);
    if (!d) return null;
    const genesis = await provider.getBlock(0);
    if (genesis?.hash !== d.genesisHash || (await provider.getCode(d.address)) === "0x") {
      throw new ProvmarkError(
        "REGISTRY_NOT_DEPLOYED",
        `the registry recorded for chain ${chainId} (${d.address}) is not on ${rpc}: the chain was reset or is another network with the same id`,
        {
          subject: deploymentPath(dir, chainId),
          hints: [`Deploy again: provmark deploy --rpc ${rpc} --force`],
        },
      );
    }
    return d;
  } catch (e) {
    throw ledgerError(e, "find the registry", rpc);
  }
}

/** `--registry`: a 0x address with contract code on this chain. */
async function checkRegistryAddress(address: string, provider: Provider, chainId: bigint): Promise<string> {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) {
    throw new ProvmarkError("USAGE", `--registry must be a 0x-prefixed address, got ${address}`, {
      subject: "--registry",
    });
  }
  if ((await provider.getCode(address)) === "0x") {
    throw new ProvmarkError("REGISTRY_NOT_DEPLOYED", `${address} has no contract code on chain ${chainId}`, {
      subject: address,
      hints: ["Check the address and the network (--rpc)."],
    });
  }
  return address;
}
