import { ExitCode } from "../../errors.js";
import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { type LedgerFlags, ledgerOptions, ownerFlag } from "./ledger-flags.js";

/**
 * `provmark evidence verify <report>`: exit 0 when every check passes, 3 when one fails. With
 * --chain, the on-chain record is also re-read from the chain (--rpc, or the embedded chain), in the
 * registry the verifier trusts (--deployment, --registry, or its own deployment record).
 */
export async function evidenceVerify(
  path: string,
  flags: LedgerFlags & { chain?: boolean; deployment?: string; alpha: number; maxFailures: number; acceptV1?: boolean },
  globals: GlobalOptions,
): Promise<void> {
  const { verifyDawnEvidence } = await import("../../detect/dawn-evidence-verify.js");
  const policy0 = { alpha: flags.alpha, maxFailureFraction: flags.maxFailures };
  const dawn = await verifyDawnEvidence(path, policy0);
  if (dawn !== null) return dawnEvidenceVerify(path, dawn, flags);
  const { verifyEvidence } = await import("../../detect/evidence-verify.js");
  const { DEV_CHAIN_LABEL, devChainFromReport } = await import("../../detect/dev-chain.js");
  const policy = { alpha: flags.alpha, maxFailureFraction: flags.maxFailures, acceptV1: !!flags.acceptV1 };
  const verified = await verifyEvidence(path, policy);
  const { report } = verified;
  let { check } = verified;
  let chain: {
    verified: boolean;
    chainId: string;
    registry: string;
    rpc: string;
    devChain: string | null;
  } | null = report.onChain
    ? {
        verified: false,
        chainId: report.onChain.chainId,
        registry: report.onChain.contract,
        rpc: report.onChain.rpc,
        devChain: devChainFromReport(report.onChain),
      }
    : null;
  if (flags.chain) {
    const { recheckOnChain } = await import("../../detect/evidence-chain.js");
    const c = await recheckOnChain(report, ledgerOptions(flags, globals), {
      deploymentFile: flags.deployment,
      owner: ownerFlag(flags),
    });
    // Runs anchored against this certificate and suspect count even when the report omits them.
    if (c.anchoredPlans.some((h) => !report.committedPlans.some((p) => p.planHash === h))) {
      check = (await verifyEvidence(path, { ...policy, knownPlans: c.anchoredPlans })).check;
    }
    check.checks.push({ name: c.check.name, status: c.check.ok ? "pass" : "fail", detail: c.check.detail });
    check.ok &&= c.check.ok;
    chain = c.chain ? { verified: c.check.ok, ...c.chain } : chain;
  }
  const independent = chain === null ? null : chain.devChain === null;
  emit(
    {
      path,
      ok: check.ok,
      verdict: report.result.verdict,
      recomputed: {
        verdict: check.recomputed.verdict,
        matches: check.recomputed.matches,
        n: check.recomputed.n,
        pValue: check.recomputed.pValue,
        log10PValue: check.recomputed.log10PValue,
        alpha: check.recomputed.alpha,
        multiplicity: check.recomputed.multiplicity,
      },
      caveats: check.caveats,
      suspect: report.suspect.target,
      onChain: report.onChain,
      chain:
        chain === null
          ? null
          : { ...chain, independent, note: chain.devChain === null ? null : `${DEV_CHAIN_LABEL}: ${chain.devChain}` },
      checks: check.checks,
    },
    flags,
    (o) =>
      [
        `${o.ok ? "VALID" : "INVALID"}: evidence of "${o.verdict}" against ${o.suspect}`,
        ...o.checks.map((c) => `  ${{ pass: "ok  ", fail: "FAIL", warn: "warn" }[c.status]} ${c.name} (${c.detail})`),
        `  recomputed: ${o.recomputed.matches} matches, log10 p = ${o.recomputed.log10PValue.toFixed(2)} (Bonferroni ×${o.recomputed.multiplicity}, α ${o.recomputed.alpha}) → ${o.recomputed.verdict}`,
        ...o.caveats.map((c) => `  caveat: ${c}`),
        o.onChain
          ? `  certificate registered on chain ${o.onChain.chainId} at ${o.onChain.registeredAt} (tx ${o.onChain.txHash})${flags.chain ? "" : "; add --chain to re-read it from the chain"}`
          : "  no on-chain record attached",
        ...(o.chain?.note ? [`  NOTE ${o.chain.note}`] : []),
      ].join("\n"),
  );
  process.exitCode = check.ok ? ExitCode.ok : ExitCode.notDetected;
}

/** `evidence verify` of a DAWN report (kind "dawn"): bodies, answers, counts and p, without the key. */
async function dawnEvidenceVerify(
  path: string,
  dawn: NonNullable<Awaited<ReturnType<typeof import("../../detect/dawn-evidence-verify.js").verifyDawnEvidence>>>,
  flags: { alpha: number; maxFailures: number; json?: boolean; chain?: boolean },
): Promise<void> {
  const { report, check } = dawn;
  if (flags.chain) {
    check.checks.push({
      name: "chain",
      status: "warn",
      detail: "a DAWN report cites no on-chain record: check the guard's anchored audit log for the log's SHA-256",
    });
  }
  const r = check.recomputed;
  emit(
    {
      path,
      kind: "dawn",
      ok: check.ok,
      verdict: report.result.verdict,
      recomputed: {
        verdict: r.verdict,
        client: r.client,
        matches: r.matches,
        n: r.n,
        pValue: r.pValue,
        log10PValue: r.log10PValue,
        alpha: r.alpha,
        multiplicity: r.multiplicity,
      },
      logSha256: report.log.sha256,
      caveats: check.caveats,
      suspect: report.suspect.target,
      checks: check.checks,
    },
    flags,
    (o) =>
      [
        `${o.ok ? "VALID" : "INVALID"}: DAWN evidence of "${o.verdict}" against ${o.suspect}`,
        ...o.checks.map((c) => `  ${{ pass: "ok  ", fail: "FAIL", warn: "warn" }[c.status]} ${c.name} (${c.detail})`),
        `  recomputed: ${o.recomputed.matches} matches (client ${o.recomputed.client}), log10 p = ${o.recomputed.log10PValue.toFixed(2)} (Bonferroni ×${o.recomputed.multiplicity}, α ${o.recomputed.alpha}) → ${o.recomputed.verdict}`,
        `  DAWN log SHA-256: ${o.logSha256}`,
        ...o.caveats.map((c) => `  caveat: ${c}`),
      ].join("\n"),
  );
  process.exitCode = check.ok ? ExitCode.ok : ExitCode.notDetected;
}
