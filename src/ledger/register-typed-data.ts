/**
 * EIP-712 typed data of ProvenanceRegistry.registerVersionBySig, the single definition shared by the
 * client, tests and scripts. Must match REGISTER_VERSION_TYPEHASH in contracts/ProvenanceRegistry.sol.
 */
export const REGISTER_VERSION_TYPES = {
  RegisterVersion: [
    { name: "signer", type: "address" },
    { name: "modelId", type: "bytes32" },
    { name: "digest", type: "bytes32" },
    { name: "parent", type: "bytes32" },
    { name: "certificateHash", type: "bytes32" },
    { name: "manifestCidHash", type: "bytes32" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

/** The contract's EIP-712 domain on a chain. */
export function registryDomain(chainId: bigint, verifyingContract: string) {
  return { name: "ProvenanceRegistry", version: "1", chainId, verifyingContract };
}
