import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { iso, type LedgerFlags, ledgerOptions } from "./ledger-flags.js";

/** Marks a version revoked (a timestamp and a reason on chain; the record stays). */
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
  const { openLedger } = await import("../../ledger/open-ledger.js");
  const { requireRegistry } = await import("../../release/register-release.js");
  const ledger = await openLedger({ ...ledgerOptions(flags, globals), access: "write" });
  try {
    const registry = requireRegistry(ledger);
    const tx = await registry.revoke(digest, flags.reason);
    emit(
      {
        digest: digest.slice(2),
        reason: flags.reason,
        revokedAt: iso(tx.timestamp),
        txHash: tx.txHash,
        blockNumber: tx.blockNumber,
        chainId: ledger.chainId.toString(),
        contract: registry.address,
        rpc: ledger.rpc,
      },
      flags,
      (r) => `revoked ${r.digest} at ${r.revokedAt} (tx ${r.txHash}, block ${r.blockNumber})`,
    );
  } finally {
    await ledger.close();
  }
}
