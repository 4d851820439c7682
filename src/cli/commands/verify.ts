import type { Verdict } from "../../core/watermark/verdict.js";
import { ExitCode } from "../../errors.js";
import { backendChoice } from "../../model/backend.js";
import { readKeyFile } from "../../watermark/key-file.js";
import { getPassphrase } from "../../watermark/passphrase.js";
import { verifyModel } from "../../watermark/verify.js";
import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";

export const VERDICT_EXIT: Record<Verdict, number> = {
  watermarked: ExitCode.ok,
  "not-detected": ExitCode.notDetected,
  inconclusive: ExitCode.inconclusive,
};

/** A p-value from its log10, readable at any size (2.51e-120 rather than 0). */
export function formatLog10P(log10: number): string {
  if (log10 > -4) return (10 ** log10).toPrecision(3);
  const exp = Math.floor(log10);
  return `${(10 ** (log10 - exp)).toFixed(2)}e${exp}`;
}
const p = formatLog10P;

export async function verify(
  opts: { model: string; key: string; reference?: string[]; alpha?: number; json?: boolean },
  globals: GlobalOptions,
): Promise<void> {
  const key = await readKeyFile(opts.key, await getPassphrase());
  const r = await verifyModel({
    model: opts.model,
    key,
    keyPath: opts.key,
    references: opts.reference ?? [],
    ...(opts.alpha === undefined ? {} : { alpha: opts.alpha }),
    backend: backendChoice(globals.backend),
  });
  emit(r, opts, () => {
    const w = r.weight;
    return [
      `verdict: ${r.verdict} (combined p ${p(r.combinedLog10PValue)}, α ${r.alpha})`,
      `trigger set:  ${r.trigger.matches}/${r.trigger.n} labels match, p = ${p(r.trigger.log10PValue)}` +
        (r.trigger.empiricalPValue === undefined ? "" : `, empirical p = ${r.trigger.empiricalPValue.toPrecision(3)}`),
      w.applicable
        ? `weight mark:  ${w.bitErrors}/${w.bits} bit errors in ${w.layer}, p = ${p(w.log10PValue)}` +
          (w.empiricalPValue === undefined ? "" : `, empirical p = ${w.empiricalPValue.toPrecision(3)}`)
        : `weight mark:  not tested (${w.reason})`,
    ].join("\n");
  });
  process.exitCode = VERDICT_EXIT[r.verdict];
}
