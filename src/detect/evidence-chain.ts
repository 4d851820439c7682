import type { EvidenceReport } from "../core/detect/evidence.js";
import { type LedgerOptions, openLedger } from "../ledger/open-ledger.js";

export interface ChainCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * Re-reads the report's on-chain record from the chain itself (not from the report): the version is
 * registered, its certificate hash is the report's certificate, its block time is the one reported,
 * and that time precedes the detection run — the priority a dispute rests on.
 */
export async function recheckOnChain(
  report: EvidenceReport,
  ledgerOptions: Omit<LedgerOptions, "access">,
): Promise<ChainCheck> {
  const name = "on-chain record re-read from the chain";
  const rec = report.onChain;
  if (!rec) return { name, ok: false, detail: "the report carries no on-chain record (detect with --digest)" };
  const ledger = await openLedger({
    ...ledgerOptions,
    registry: ledgerOptions.registry ?? rec.contract,
    access: "read",
  });
  try {
    const problems: string[] = [];
    if (ledger.chainId.toString() !== rec.chainId) {
      problems.push(`${ledger.rpc} is chain ${ledger.chainId}, the report names chain ${rec.chainId}`);
    }
    const v = ledger.registry ? await ledger.registry.version(`0x${rec.digest}`) : null;
    if (!v) {
      problems.push(`${rec.digest} is not registered on ${ledger.rpc}`);
    } else {
      if (v.certificateHash !== `0x${report.certificate.hash}`) {
        problems.push(`the chain's certificate hash is ${v.certificateHash}, not the report's certificate`);
      }
      const at = new Date(v.registeredAt * 1000).toISOString();
      if (at !== rec.registeredAt) problems.push(`registered at ${at} on chain, the report says ${rec.registeredAt}`);
      if (v.txHash !== rec.txHash) problems.push(`registered by tx ${v.txHash}, the report says ${rec.txHash}`);
      if (Date.parse(at) > Date.parse(report.run.startedAt)) {
        problems.push(`the registration (${at}) does not precede the run (${report.run.startedAt})`);
      }
      if (v.revokedAt !== null)
        problems.push(`the version was revoked at ${new Date(v.revokedAt * 1000).toISOString()}`);
    }
    return problems.length
      ? { name, ok: false, detail: problems.join("; ") }
      : {
          name,
          ok: true,
          detail: `registered at ${rec.registeredAt} on chain ${rec.chainId} (${ledger.rpc}), before the run`,
        };
  } finally {
    await ledger.close();
  }
}
