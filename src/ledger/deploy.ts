import { ContractFactory, type Provider, type Wallet } from "ethers";
import { VERSION } from "../version.js";
import { ledgerError } from "./decode-error.js";
import type { Deployment } from "./deployments.js";
import { PROVENANCE_REGISTRY_ABI, PROVENANCE_REGISTRY_BYTECODE } from "./generated/provenance-registry.js";

/** Deploys a ProvenanceRegistry and returns its deployment record once it has `confirmations`. */
export async function deployRegistry(
  wallet: Wallet,
  provider: Provider,
  options: { confirmations: number; rpc: string; txTimeoutMs: number },
): Promise<Deployment> {
  const action = "deploy the registry";
  try {
    const factory = new ContractFactory(PROVENANCE_REGISTRY_ABI, PROVENANCE_REGISTRY_BYTECODE, wallet);
    const contract = await factory.deploy();
    const tx = contract.deploymentTransaction();
    if (!tx) throw new Error("no deployment transaction");
    const receipt = await tx.wait(options.confirmations, options.txTimeoutMs);
    if (!receipt?.contractAddress) throw new Error(`deployment ${tx.hash} failed`);
    const [chain, genesis, block] = await Promise.all([
      provider.getNetwork(),
      provider.getBlock(0),
      provider.getBlock(receipt.blockNumber),
    ]);
    return {
      format: "provmark.deployment/v1",
      contract: "ProvenanceRegistry",
      chainId: chain.chainId.toString(),
      genesisHash: genesis?.hash ?? "",
      address: receipt.contractAddress,
      txHash: receipt.hash,
      blockNumber: receipt.blockNumber,
      deployer: wallet.address,
      deployedAt: new Date((block?.timestamp ?? 0) * 1000).toISOString(),
      tool: `provmark ${VERSION}`,
    };
  } catch (e) {
    throw ledgerError(e, action, options.rpc);
  }
}
