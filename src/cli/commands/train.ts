import type { Arch } from "../../model/archs.js";
import { backendChoice } from "../../model/backend.js";
import { trainModel } from "../../model/train-model.js";
import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { type Progress, progressBar } from "../progress.js";

interface TrainFlags {
  out: string;
  dataset: string;
  arch: Arch;
  epochs?: number;
  batchSize?: number;
  seed: number;
  force?: boolean;
  json?: boolean;
}

export async function train(opts: TrainFlags, globals: GlobalOptions): Promise<void> {
  let bar: Progress | undefined;
  const result = await trainModel({
    dataset: opts.dataset,
    arch: opts.arch,
    out: opts.out,
    seed: opts.seed,
    ...(opts.epochs === undefined ? {} : { epochs: opts.epochs }),
    ...(opts.batchSize === undefined ? {} : { batchSize: opts.batchSize }),
    ...(opts.force ? { force: true } : {}),
    backend: backendChoice(globals.backend),
    onBatch: (done, total, loss) => {
      bar ??= progressBar(total, {
        ...opts,
        format: "training {bar} {percentage}% | loss {loss} | ETA {eta_formatted}",
      });
      bar.update(done, { loss: loss.toFixed(4) });
    },
    onEpoch: (s) => {
      if (!opts.json && !process.stderr.isTTY) {
        process.stderr.write(`epoch ${s.epoch}: loss ${s.loss.toFixed(4)} (${s.seconds.toFixed(1)} s)\n`);
      }
    },
  });
  bar?.stop();
  emit(result, opts, (r) =>
    [
      `trained ${r.arch} on ${r.dataset} (${r.trainExamples} examples, ${r.epochs} epochs, seed ${r.seed}, ${r.backend} backend)`,
      `test accuracy: ${(r.testAccuracy * 100).toFixed(2)}% on ${r.testExamples} held-out examples`,
      `time:          ${r.trainSeconds.toFixed(1)} s`,
      `saved to:      ${r.out}`,
    ].join("\n"),
  );
}
