import { ProvmarkError } from "../errors.js";
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
  /** Told when provmark picks another backend than the one loaded (e.g. CNN on wasm). */
  onNotice?: (message: string) => void;
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
  if (req.arch === "cnn" && !hasKernel(tf, "Conv2DBackpropFilter")) {
    if (req.backend !== "auto") {
      throw new ProvmarkError("BACKEND_UNAVAILABLE", `the ${loaded.info.backend} backend cannot train convolutions`, {
        subject: "--backend",
        hints: ["It lacks the Conv2DBackpropFilter kernel; use --backend cpu (slow) or tensorflow."],
      });
    }
    req.onNotice?.(`the ${loaded.info.backend} backend lacks convolution gradients; training the CNN on cpu (slow)`);
    await loadTf("cpu");
  }
  const defaults = ARCH_DEFAULTS[req.arch];
  const epochs = req.epochs ?? defaults.epochs;
  const batchSize = req.batchSize ?? defaults.batchSize;
  const model = buildModel(tf, req.arch, data.inputShape, data.numClasses, req.seed);
  const optimizer = tf.train.adam(defaults.learningRate);
  try {
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
