import { ExitCode } from "../../errors.js";
import { emit } from "../output.js";

/** `provmark evidence verify <report>`: exit 0 when every check passes, 3 when one fails. */
export async function evidenceVerify(path: string, flags: { json?: boolean }): Promise<void> {
  const { verifyEvidence } = await import("../../detect/evidence-verify.js");
  const { report, check } = await verifyEvidence(path);
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
      },
      suspect: report.suspect.target,
      onChain: report.onChain,
      checks: check.checks,
    },
    flags,
    (o) =>
      [
        `${o.ok ? "VALID" : "INVALID"}: evidence of "${o.verdict}" against ${o.suspect}`,
        ...o.checks.map((c) => `  ${c.ok ? "ok  " : "FAIL"} ${c.name} (${c.detail})`),
        `  recomputed: ${o.recomputed.matches}/${o.recomputed.n} matches, log10 p = ${o.recomputed.log10PValue.toFixed(2)} → ${o.recomputed.verdict}`,
        o.onChain
          ? `  certificate registered on chain ${o.onChain.chainId} at ${o.onChain.registeredAt} (tx ${o.onChain.txHash}); not re-read from the chain here`
          : "  no on-chain record attached",
      ].join("\n"),
  );
  process.exitCode = check.ok ? ExitCode.ok : ExitCode.notDetected;
}
