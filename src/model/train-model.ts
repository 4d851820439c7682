import { ProvmarkError } from "../errors.js";
import { createAdam } from "./adam.js";
import { ARCH_DEFAULTS, type Arch, buildModel } from "./archs.js";
import { assertOutputFree } from "./atomic-write.js";
import { type BackendChoice, type BackendInfo, hasKernel, loadTf } from "./backend.js";
import { loadDataset } from "./datasets/index.js";
import { fileSaveHandler } from "./fs-io-handler.js";
import { accuracy, type EpochStats, fitModel } from "./train-loop.js";

export interface TrainRequest {
  dataset: string;
  arch: Arch;
  out: string;
  seed: number;
  epochs?: number;
  batchSize?: number;
  force?: boolean;
  backend: BackendChoice;
  onBatch?: (done: number, total: number, loss: number) => void;
  onEpoch?: (s: EpochStats) => void;
}

export interface TrainResult {
  out: string;
  dataset: string;
  split: string;
  arch: Arch;
  seed: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  lrDecay: number;
  maxShift: number;
  backend: BackendInfo["backend"];
  trainExamples: number;
  testExamples: number;
  testAccuracy: number;
  trainSeconds: number;
  history: EpochStats[];
}

/** Kernels that backpropagation through the CNN architecture calls (besides elementwise ones). */
const CNN_TRAINING_KERNELS = ["Conv2DBackpropFilter", "Conv2DBackpropInput", "MaxPoolGrad"] as const;

/**
 * Every backend provmark loads can train CNNs (wasm through provmark's own gradient kernels); this
 * guards against a backend that cannot, with an error naming the missing kernels.
 */
function assertCanTrainConvolutions(tf: Parameters<typeof hasKernel>[0], backend: string): void {
  const missing = CNN_TRAINING_KERNELS.filter((k) => !hasKernel(tf, k));
  if (missing.length === 0) return;
  throw new ProvmarkError(
    "BACKEND_UNAVAILABLE",
    `the ${backend} backend cannot train convolutions: it lacks ${missing.join(", ")}`,
    {
      subject: "--backend",
      hints: ["Use --backend wasm (provmark registers the gradient kernels it lacks), cpu (slow) or tensorflow."],
    },
  );
}

/**
 * Images too small for an architecture shrink to nothing in its convolutions and poolings, which the
 * wasm backend's kernels do not survive (a memory-access trap): refuse them up front.
 */
function assertArchFits(
  model: { layers: { name: string; outputShape: unknown }[] },
  arch: Arch,
  shape: readonly number[],
): void {
  for (const layer of model.layers) {
    const out = layer.outputShape as (number | null)[];
    if (out.some((d) => d !== null && d <= 0)) {
      throw new ProvmarkError(
        "DATASET_MODEL_MISMATCH",
        `the ${arch} architecture does not fit ${shape.join("x")} images: its layer ${layer.name} would output [${out.map((d) => d ?? "N").join(", ")}]`,
        { subject: "--arch", hints: ["The cnn architecture needs images of at least 10x10 pixels; use --arch mlp."] },
      );
    }
  }
}

/** Trains a reproducible baseline and saves it atomically as a LayersModel directory. */
export async function trainModel(req: TrainRequest): Promise<TrainResult> {
  await assertOutputFree(
    req.out,
    req.force ?? false,
    "Choose another --out, or pass --force to replace it once training succeeds.",
  );
  const data = await loadDataset(req.dataset);
  const loaded = await loadTf(req.backend);
  const { tf } = loaded;
  if (req.arch === "cnn") assertCanTrainConvolutions(tf, loaded.info.backend);
  const defaults = ARCH_DEFAULTS[req.arch];
  const epochs = req.epochs ?? defaults.epochs;
  const batchSize = req.batchSize ?? defaults.batchSize;
  const model = buildModel(tf, req.arch, data.inputShape, data.numClasses, req.seed);
  const optimizer = createAdam(tf, defaults.learningRate);
  try {
    assertArchFits(model, req.arch, data.inputShape);
    model.compile({
      optimizer,
      loss: "categoricalCrossentropy",
      metrics: ["accuracy"],
    });
    const started = performance.now();
    const history = await fitModel(tf, model, data, {
      epochs,
      batchSize,
      seed: req.seed,
      maxShift: defaults.maxShift,
      lrDecay: defaults.lrDecay,
      ...(req.onBatch ? { onBatch: req.onBatch } : {}),
      ...(req.onEpoch ? { onEpoch: req.onEpoch } : {}),
    });
    const trainSeconds = (performance.now() - started) / 1000;
    const testAccuracy = accuracy(tf, model, data.test, data);
    const result: TrainResult = {
      out: req.out,
      dataset: data.name,
      split: data.splitNote,
      arch: req.arch,
      seed: req.seed,
      epochs,
      batchSize,
      learningRate: defaults.learningRate,
      lrDecay: defaults.lrDecay,
      maxShift: defaults.maxShift,
      backend: tf.getBackend() as BackendInfo["backend"],
      trainExamples: data.train.count,
      testExamples: data.test.count,
      testAccuracy,
      trainSeconds,
      history,
    };
    model.setUserDefinedMetadata({
      provmark: {
        dataset: data.name,
        arch: req.arch,
        seed: req.seed,
        epochs,
        batchSize,
        testAccuracy,
        inputShape: [...data.inputShape],
        numClasses: data.numClasses,
      },
    });
    await model.save(fileSaveHandler(tf, req.out, { overwrite: req.force ?? false }));
    return result;
  } finally {
    // model.dispose() leaves the optimizer's slot variables (Adam's moments) alive.
    optimizer.dispose();
    model.dispose();
  }
}
