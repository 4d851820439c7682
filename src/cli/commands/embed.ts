import { backendChoice } from "../../model/backend.js";
import { embedWatermark } from "../../watermark/embed.js";
import { readKeyFile } from "../../watermark/key-file.js";
import { getPassphrase } from "../../watermark/passphrase.js";
import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { type Progress, progressBar } from "../progress.js";

export interface EmbedFlags {
  model: string;
  key: string;
  dataset: string;
  out: string;
  maxEpochs?: number | "auto";
  lambda?: number;
  triggerRatio?: number;
  learningRate?: number;
  targets?: "auto" | "labels" | "teacher";
  augment?: "auto" | "on" | "off";
  freeze?: "before-carrier" | "none";
  force?: boolean;
  json?: boolean;
}

export async function embed(opts: EmbedFlags, globals: GlobalOptions): Promise<void> {
  const key = await readKeyFile(opts.key, await getPassphrase());
  let bar: Progress | undefined;
  let shown: string | undefined;
  const r = await embedWatermark({
    model: opts.model,
    keyPath: opts.key,
    key,
    dataset: opts.dataset,
    out: opts.out,
    ...(opts.force ? { force: true } : {}),
    backend: backendChoice(globals.backend),
    settings: {
      ...(opts.maxEpochs === undefined ? {} : { maxEpochs: opts.maxEpochs }),
      ...(opts.lambda === undefined ? {} : { lambda: opts.lambda }),
      ...(opts.triggerRatio === undefined ? {} : { triggerRatio: opts.triggerRatio }),
      ...(opts.learningRate === undefined ? {} : { learningRate: opts.learningRate }),
      ...(opts.targets === undefined ? {} : { targets: opts.targets }),
      ...(opts.augment === undefined ? {} : { augment: opts.augment }),
      ...(opts.freeze === undefined ? {} : { freeze: opts.freeze }),
    },
    onProgress: (phase, done, total) => {
      if (phase !== shown) {
        bar?.stop();
        shown = phase;
        bar = progressBar(total, {
          ...opts,
          format:
            phase === "features"
              ? "features  {bar} {percentage}% (layers before the carrier, once per example)"
              : "embedding {bar} {percentage}% (stops early when both marks hold)",
        });
      }
      bar?.update(done);
    },
  });
  bar?.stop();
  const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(2)}%`);
  emit(r, opts, () =>
    [
      `embedded both watermarks into ${r.out} in ${r.embedSeconds.toFixed(1)} s (${r.epochs.toFixed(2)} epochs, ${r.steps} steps, ${r.backend}${r.cachedFeatures ? ", frozen layers run once" : ""})`,
      r.accuracyDrop === null
        ? "test accuracy:    n/a (unlabelled data)"
        : `test accuracy:    ${pct(r.baselineAccuracy)} → ${pct(r.markedAccuracy)} (drop ${(r.accuracyDrop * 100).toFixed(2)} pp)`,
      `agreement:        ${pct(r.agreement)} of ${r.heldOut} held-out inputs answered as the original model does (targets: ${r.targets}${r.augmented ? ", augmented" : ""}; ${r.trainedWeights} weights fine-tuned)`,
      `trigger accuracy: ${pct(r.triggerAccuracy)} of ${r.triggers}`,
      `weight mark:      ${r.bitErrors} bit errors of ${r.bits}`,
      `weights digest:   ${r.weightsDigest}`,
      `certificate:      ${r.out}/watermark-certificate.json (sha256 ${r.certificateHash})`,
    ].join("\n"),
  );
}
