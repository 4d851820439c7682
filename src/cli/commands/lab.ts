import { ProvmarkError } from "../../errors.js";
import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";

export interface LabOptions {
  model: string;
  key: string;
  dataset: string;
  out: string;
  attacks?: string;
  quick?: boolean;
  nullModels?: number;
  nullEpochs?: number;
  alpha?: number;
  seed?: number;
  force?: boolean;
  json?: boolean;
}

/** `provmark lab`: attack a marked model the way a thief would and report what survives. */
export async function lab(opts: LabOptions, globals: GlobalOptions): Promise<void> {
  const { ATTACK_FAMILIES } = await import("../../lab/lab-types.js");
  const families = (opts.attacks ?? ATTACK_FAMILIES.join(","))
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const unknown = families.filter((f) => !(ATTACK_FAMILIES as readonly string[]).includes(f));
  if (unknown.length > 0 || families.length === 0) {
    throw new ProvmarkError(
      "USAGE",
      `unknown attack famil${unknown.length === 1 ? "y" : "ies"}: ${unknown.join(", ") || "(none)"}`,
      {
        subject: "--attacks",
        hints: [`Choose a comma list of ${ATTACK_FAMILIES.join(", ")}.`],
      },
    );
  }
  const { readKeyFile } = await import("../../watermark/key-file.js");
  const { getPassphrase } = await import("../../watermark/passphrase.js");
  const { runLab } = await import("../../lab/run-lab.js");
  const { fmtLog10P } = await import("../../lab/report-html.js");
  const { backendChoice } = await import("../../model/backend.js");
  const key = await readKeyFile(opts.key, await getPassphrase());
  const r = await runLab({
    model: opts.model,
    key,
    dataset: opts.dataset,
    out: opts.out,
    force: !!opts.force,
    families: families as (typeof ATTACK_FAMILIES)[number][],
    quick: !!opts.quick,
    ...(opts.alpha === undefined ? {} : { alpha: opts.alpha }),
    ...(opts.seed === undefined ? {} : { seed: opts.seed }),
    ...(opts.nullModels
      ? { nullBank: { models: opts.nullModels, ...(opts.nullEpochs ? { epochs: opts.nullEpochs } : {}) } }
      : {}),
    backend: backendChoice(globals.backend),
    ...(opts.json ? {} : { onProgress: (m: string) => process.stderr.write(`${m}\n`) }),
  });
  emit(r, opts, (o) => {
    const removed = o.rows.filter((x) => x.removed);
    const lines = [
      `marked model: accuracy ${(o.baseline.accuracy * 100).toFixed(2)}%, trigger p ${fmtLog10P(o.baseline.triggerLog10PValue)}, weight p ${fmtLog10P(o.baseline.weightLog10PValue)}`,
      `${o.rows.length} attack settings; ${removed.length} removed the watermark (verdict misses α ${o.alpha} with <= 5 pp accuracy lost)` +
        (removed.length > 0
          ? `:\n${removed.map((x) => `  ${x.family}: ${x.attack} (acc ${(x.accuracy * 100).toFixed(2)}%, trigger p ${fmtLog10P(x.triggerLog10PValue)}, weight p ${fmtLog10P(x.weightLog10PValue)})`).join("\n")}`
          : ""),
      ...o.targets.map((t) => `target ${t.met === null ? "not run" : t.met ? "met    " : "NOT met"}: ${t.target}`),
    ];
    if (o.nullBank) {
      const s = o.nullBank.summary;
      lines.push(
        `null bank: ${s.models} unmarked models, largest false match rate ${s.maxFalseMatchRate.toFixed(3)} (expected ${s.expectedMatchRate.toFixed(3)}), smallest combined p ${fmtLog10P(s.minCombinedLog10PValue)}; at 1e-6: ${s.atAlpha["1e-6"]}, at 1e-3: ${s.atAlpha["1e-3"]}`,
      );
    }
    lines.push(`wrote ${opts.out}/results.json and ${opts.out}/report.html`);
    return lines.join("\n");
  });
}
