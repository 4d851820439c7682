import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { type LedgerFlags, ledgerOptions } from "./ledger-flags.js";

/** Deploys a ProvenanceRegistry to --rpc and records it in <data dir>/deployments/<chain id>.json. */
export async function deploy(flags: LedgerFlags & { force?: boolean }, globals: GlobalOptions): Promise<void> {
  const { ProvmarkError } = await import("../../errors.js");
  const options = ledgerOptions(flags, globals);
  if (!options.rpcUrl) {
    throw new ProvmarkError("USAGE", "deploy needs --rpc <url> (or PROVMARK_RPC_URL)", {
      subject: "--rpc",
      hints: ["The embedded chain deploys its registry by itself on the first `provmark register`."],
    });
  }
  const { JsonRpcProvider, Network } = await import("ethers");
  const { probeChainId } = await import("../../ledger/rpc-probe.js");
  const { redactRpcUrl } = await import("../../ledger/redact-rpc-url.js");
  const { loadSigner } = await import("../../ledger/signer.js");
  const { readDeployment, writeDeployment, deploymentPath } = await import("../../ledger/deployments.js");
  const { deployRegistry } = await import("../../ledger/deploy.js");
  const rpc = redactRpcUrl(options.rpcUrl);
  const chainId = await probeChainId(options.rpcUrl, 10_000);
  if (options.expectChainId !== undefined && options.expectChainId !== chainId) {
    throw new ProvmarkError("CHAIN_ID_MISMATCH", `${rpc} serves chain ${chainId}, not ${options.expectChainId}`, {
      subject: rpc,
    });
  }
  const provider = new JsonRpcProvider(options.rpcUrl, Network.from(chainId), {
    staticNetwork: Network.from(chainId),
    pollingInterval: 1000,
    // ethers caches identical reads for 250 ms: a nonce read right after a transaction would be stale
    cacheTimeout: -1,
  });
  try {
    const existing = await readDeployment(options.dataDir, chainId);
    if (existing && !flags.force) {
      const genesis = await provider.getBlock(0);
      const live = genesis?.hash === existing.genesisHash && (await provider.getCode(existing.address)) !== "0x";
      if (live) {
        throw new ProvmarkError(
          "OUTPUT_EXISTS",
          `a registry is deployed on chain ${chainId} already: ${existing.address} (block ${existing.blockNumber})`,
          {
            subject: deploymentPath(options.dataDir, chainId),
            hints: ["Pass --force to deploy a new, separate registry (its history starts empty)."],
          },
        );
      }
    }
    const signer = await loadSigner(options.signer ?? {});
    if (!signer) {
      throw new ProvmarkError("CHAIN_SIGNER_MISSING", `deploying to ${rpc} needs a signer`, {
        hints: ["Set PROVMARK_PRIVATE_KEY, or pass --keystore <file>."],
      });
    }
    const deployment = await deployRegistry(signer.connect(provider), provider, {
      confirmations: options.confirmations ?? 1,
      rpc,
      txTimeoutMs: 300_000,
    });
    const path = await writeDeployment(options.dataDir, deployment);
    emit(
      { ...deployment, rpc, deploymentFile: path },
      flags,
      (d) =>
        `deployed ProvenanceRegistry at ${d.address} on chain ${d.chainId} (tx ${d.txHash}, block ${d.blockNumber})\nrecorded in ${d.deploymentFile}`,
    );
  } finally {
    provider.destroy();
  }
}
