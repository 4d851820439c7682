import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { iso, type LedgerFlags, ledgerOptions, ownerFlag } from "./ledger-flags.js";

/**
 * Marks a version revoked (a timestamp and a reason on chain; the record stays). The version is the
 * digest's registration in a namespace the signer owns or maintains (`--owner` picks among several).
 */
export async function revoke(
  digestText: string,
  flags: LedgerFlags & { reason: string },
  globals: GlobalOptions,
): Promise<void> {
  const { toBytes32 } = await import("../../core/digest/hex-digest.js");
  const digest = toBytes32(digestText, "<digest>");
  const { ProvmarkError } = await import("../../errors.js");
  if (flags.reason.trim() === "") {
    throw new ProvmarkError("USAGE", "--reason must not be empty: say why, for the record", { subject: "--reason" });
  }
  const owner = ownerFlag(flags);
  const { openLedger } = await import("../../ledger/open-ledger.js");
  const { sameAddress } = await import("../../ledger/registry-client.js");
  const { requireRegistry } = await import("../../release/register-release.js");
  const ledger = await openLedger({ ...ledgerOptions(flags, globals), access: "write" });
  try {
    const registry = requireRegistry(ledger);
    const signer = await registry.signerAddress();
    const mine = (await registry.registrationsManagedBy(digest, signer)).filter(
      (r) => owner === null || sameAddress(r.owner, owner),
    );
    const [target] = mine;
    if (!target) {
      throw new ProvmarkError(
        "REGISTRY_UNKNOWN_VERSION",
        `${digest} is not registered in a model namespace ${signer} owns or maintains${owner ? ` (owner ${owner})` : ""}`,
        { subject: digestText, hints: ["`provmark history <digest>` shows who registered it."] },
      );
    }
    if (mine.length > 1) {
      throw new ProvmarkError(
        "USAGE",
        `${digest} is registered in ${mine.length} namespaces ${signer} manages: pass --owner to pick one`,
        { subject: "--owner", hints: mine.map((r) => `model ${r.modelId}, owner ${r.owner}`) },
      );
    }
    const tx = await registry.revoke(target.modelId, digest, flags.reason);
    emit(
      {
        digest: digest.slice(2),
        modelId: target.modelId,
        owner: target.owner,
        revoker: signer,
        reason: flags.reason,
        revokedAt: iso(tx.timestamp),
        txHash: tx.txHash,
        blockNumber: tx.blockNumber,
        chainId: ledger.chainId.toString(),
        contract: registry.address,
        rpc: ledger.rpc,
      },
      flags,
      (r) => `revoked ${r.digest} of model ${r.modelId} at ${r.revokedAt} (tx ${r.txHash}, block ${r.blockNumber})`,
    );
  } finally {
    await ledger.close();
  }
}
