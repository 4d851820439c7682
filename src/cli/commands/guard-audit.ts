import { ProvmarkError } from "../../errors.js";
import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { type LedgerFlags, ledgerOptions, ownerFlag } from "./ledger-flags.js";

export interface AuditVerifyFlags extends LedgerFlags {
  chain?: boolean;
}

/** Verifies an audit log's hash chain and its anchors (on chain with --chain); fails with GUARD_AUDIT_INVALID. */
export async function guardAuditVerify(log: string, flags: AuditVerifyFlags, globals: GlobalOptions): Promise<void> {
  const { verifyAuditLog } = await import("../../guard/audit-anchors.js");
  const owner = ownerFlag(flags);
  const r = await verifyAuditLog(log, flags.chain ? ledgerOptions(flags, globals) : undefined, owner ? [owner] : []);
  if (!r.ok) {
    const first = r.problems[0];
    throw new ProvmarkError(
      "GUARD_AUDIT_INVALID",
      first === undefined
        ? `${log}: the last line is torn (a crash mid-append); ${r.count} entries verify, head ${r.head}`
        : `${log} line ${first.line}: ${first.what} (${r.count} entries verify before it)`,
      {
        subject: log,
        hints: r.problems.slice(1, 5).map((p) => `also line ${p.line}: ${p.what}`),
      },
    );
  }
  emit(r, flags, (v) =>
    [
      `${log}: ${v.count} entries, chain intact`,
      `  head: ${v.head}`,
      `  anchors: ${v.anchors}${v.onChain ? ` (${v.onChain.filter((a) => a.confirmed).length} confirmed on chain)` : ""}`,
    ].join("\n"),
  );
}

export interface AnchorFlags extends LedgerFlags {
  log: string;
}

/** Anchors the audit log's head on chain (one transaction) and records it in `<log>.anchors.json`. */
export async function guardAnchor(flags: AnchorFlags, globals: GlobalOptions): Promise<void> {
  const { anchorAuditLog } = await import("../../guard/audit-anchors.js");
  const r = await anchorAuditLog(flags.log, ledgerOptions(flags, globals));
  emit(r, flags, (a) =>
    [
      `anchored ${flags.log}: ${a.count} entries, head ${a.head}`,
      `  tx ${a.txHash} in block ${a.blockNumber} (chain ${a.chainId}, registry ${a.contract})`,
    ].join("\n"),
  );
}
