import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";

/** `provmark attack finetune`: what a thief does to a stolen model before serving it. */
export async function attackFinetune(
  opts: {
    model: string;
    dataset: string;
    out: string;
    epochs: number;
    lr: number;
    batchSize: number;
    seed: number;
    force?: boolean;
    json?: boolean;
  },
  globals: GlobalOptions,
): Promise<void> {
  const { finetuneAttack } = await import("../../lab/finetune-attack.js");
  const { backendChoice } = await import("../../model/backend.js");
  const r = await finetuneAttack({
    model: opts.model,
    dataset: opts.dataset,
    out: opts.out,
    epochs: opts.epochs,
    learningRate: opts.lr,
    batchSize: opts.batchSize,
    seed: opts.seed,
    backend: backendChoice(globals.backend),
    force: !!opts.force,
  });
  emit(
    r,
    opts,
    (o) =>
      `fine-tuned ${o.epochs} epoch(s) at lr ${o.learningRate} in ${o.seconds.toFixed(1)} s: test accuracy ${(o.accuracyBefore * 100).toFixed(2)}% → ${(o.accuracyAfter * 100).toFixed(2)}%\nwrote ${o.out}`,
  );
}
