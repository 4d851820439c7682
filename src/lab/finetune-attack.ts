import { ProvmarkError } from "../errors.js";
import { createAdam } from "../model/adam.js";
import { assertOutputFree } from "../model/atomic-write.js";
import { type BackendChoice, loadTf } from "../model/backend.js";
import { loadDataset } from "../model/datasets/index.js";
import { fileSaveHandler, loadLayersModel } from "../model/fs-io-handler.js";
import { accuracy, fitModel } from "../model/train-loop.js";

export interface FinetuneAttackRequest {
  model: string;
  dataset: string;
  out: string;
  epochs: number;
  learningRate: number;
  batchSize: number;
  seed: number;
  backend: BackendChoice;
  force?: boolean;
  onEpoch?: (epoch: number, loss: number) => void;
}

export interface FinetuneAttackResult {
  out: string;
  epochs: number;
  learningRate: number;
  accuracyBefore: number;
  accuracyAfter: number;
  seconds: number;
}

/**
 * The simplest removal attack a thief tries: keep training the stolen model on clean data (no
 * triggers) for a few epochs, hoping the watermark fades while accuracy stays. Saved atomically.
 */
export async function finetuneAttack(req: FinetuneAttackRequest): Promise<FinetuneAttackResult> {
  await assertOutputFree(req.out, req.force ?? false, "Choose another --out, or pass --force.");
  const data = await loadDataset(req.dataset);
  const { tf } = await loadTf(req.backend);
  const model = await loadLayersModel(tf, req.model);
  const optimizer = createAdam(tf, req.learningRate);
  try {
    const inShape = model.inputs[0]?.shape.slice(1).join(",");
    if (inShape !== data.inputShape.join(",")) {
      throw new ProvmarkError(
        "DATASET_MODEL_MISMATCH",
        `the model takes ${inShape}, ${data.name} has ${data.inputShape.join(",")}`,
        {
          subject: "--dataset",
        },
      );
    }
    model.compile({ optimizer, loss: "categoricalCrossentropy", metrics: ["accuracy"] });
    const accuracyBefore = accuracy(tf, model, data.test, data);
    const started = performance.now();
    await fitModel(tf, model, data, {
      epochs: req.epochs,
      batchSize: req.batchSize,
      seed: req.seed,
      ...(req.onEpoch ? { onEpoch: (s) => req.onEpoch?.(s.epoch, s.loss) } : {}),
    });
    const seconds = (performance.now() - started) / 1000;
    const accuracyAfter = accuracy(tf, model, data.test, data);
    await model.save(fileSaveHandler(tf, req.out, { overwrite: req.force ?? false }));
    return { out: req.out, epochs: req.epochs, learningRate: req.learningRate, accuracyBefore, accuracyAfter, seconds };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}
