/**
 * `npm run bench:watermark -- --model <dir> --dataset <spec>`: the watermark targets on the user's
 * own model and data, printed as JSON. Plans a key for the model as `keygen --model` does, embeds
 * both marks from the dataset, verifies the marked model, and verifies a bank of independently
 * trained models against the same key to look for false positives: the model's head (the carrier's
 * root layer onwards, on the frozen backbone's features) re-initialised and trained on the dataset's
 * labels with another seed, or the whole model when nothing is frozen before the carrier.
 * `--dataset csv:<file>` without `--model` first trains a tabular MLP on the file (standardising
 * first layer, then Dense 128 relu, Dense 128 relu, softmax) and marks that.
 * Options: --null-models N (10), --null-steps N (300), --max-epochs N|auto (auto), --label-column NAME, --preprocess PRESET,
 * --out DIR (default a temp dir).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs";
import { createRng } from "../src/core/rng.js";
import { logPoissonBinomialTail } from "../src/core/stats/binomial.js";
import type { WatermarkParams } from "../src/core/watermark/params.js";
import { triggerCountFor } from "../src/core/watermark/trigger-count.js";
import { createAdam } from "../src/model/adam.js";
import { loadTf } from "../src/model/backend.js";
import { loadDataset } from "../src/model/datasets/index.js";
import { disposeModel } from "../src/model/dispose-model.js";
import { fileSaveHandler, loadLayersModel } from "../src/model/fs-io-handler.js";
import { saveLikeSource } from "../src/model/save-like-source.js";
import { featurePool, streamingSource } from "../src/watermark/clean-source.js";
import { findCarrier } from "../src/watermark/compat.js";
import { embedWatermark } from "../src/watermark/embed.js";
import { generateKey } from "../src/watermark/keygen.js";
import { planKeyForModel } from "../src/watermark/keygen-model.js";
import { applyLayers, splitAtCarrier } from "../src/watermark/split-at-carrier.js";
import { verifyModel } from "../src/watermark/verify.js";

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const dataset = arg("--dataset");
if (!dataset) throw new Error("--dataset <spec> is required with --model (images:<dir>, csv:<file>, ...)");
const nullModels = Number(arg("--null-models") ?? 10);
const nullSteps = Number(arg("--null-steps") ?? 300);
// Small datasets need many epochs (an epoch may be a single pass over the triggers); embedding stops early.
const maxEpochsArg = arg("--max-epochs") ?? "auto";
const maxEpochs = maxEpochsArg === "auto" ? "auto" : Number(maxEpochsArg);
const labelColumn = arg("--label-column");
const preprocess = arg("--preprocess");
const dir = arg("--out") ?? mkdtempSync(join(tmpdir(), "provmark-bench-wm-model-"));
// Declared before the first null head is trained (top-level code below calls retrainHead).
let pool: ReturnType<typeof featurePool> | null = null;
const log = (m: string) => process.stderr.write(`${m}\n`);
const { tf, info } = await loadTf();
log(`backend ${info.backend}${info.wasm ? ` (${info.wasm.threads} threads)` : ""}; working in ${dir}`);

let modelDir = arg("--model");
let baseline: { testAccuracy: number; trainSeconds: number } | null = null;
if (!modelDir) {
  if (!dataset.startsWith("csv:"))
    throw new Error("without --model, --dataset must be csv:<file> (a tabular MLP is trained)");
  modelDir = join(dir, "baseline");
  baseline = await trainTabular(dataset, modelDir, 1);
  log(
    `baseline MLP: ${(baseline.testAccuracy * 100).toFixed(2)}% test accuracy in ${baseline.trainSeconds.toFixed(1)} s`,
  );
}

const plan = await planKeyForModel(modelDir, {
  overrides: preprocess ? ({ preprocess } as Parameters<typeof planKeyForModel>[1]["overrides"]) : {},
  bits: 64,
  dataset,
  ...(labelColumn ? { labelColumn } : {}),
});
const classes = plan.io.classes.count;
const sized = triggerCountFor(classes, 100);
const triggers = sized.triggers;
const params: WatermarkParams = {
  derivation: "vrf/v2",
  io: plan.io,
  runSize: sized.runSize,
  layer: plan.layer,
  bits: 64,
  triggers,
  family: "noise",
  stampStrength: 0.3,
};
const key = await generateKey(params, plan.io.input.kind === "image" ? dataset : undefined);
log(`key: ${triggers} triggers, carrier ${plan.layer}; ${plan.reasons.io.join(" ")}`);

const t0 = performance.now();
const marked = await embedWatermark({
  model: modelDir,
  keyPath: "(bench key)",
  key,
  dataset,
  out: join(dir, "marked"),
  force: true,
  backend: "auto",
  settings: { maxEpochs },
});
const embedWallSeconds = (performance.now() - t0) / 1000;
log(
  `embedded in ${marked.embedSeconds.toFixed(1)} s: ${(marked.triggerAccuracy * 100).toFixed(1)}% triggers, ${marked.bitErrors} bit errors, agreement ${(marked.agreement * 100).toFixed(2)}%`,
);
const v = await verifyModel({ model: join(dir, "marked"), key, keyPath: "(bench key)", backend: "auto" });
// Detection runs use half the set: the p-value when every miss falls in the half that is queried.
const half = Math.floor(triggers / 2);
const halfMatches = Math.max(0, v.trigger.matches - (triggers - half));
const halfLog10P = logPoissonBinomialTail(new Array(half).fill(1 / classes), halfMatches) / Math.LN10;

const bank = [];
for (let i = 0; i < nullModels; i++) {
  const out = join(dir, `null-${i}`);
  const seed = 1000 + i;
  const acc =
    baseline === null ? await retrainHead(modelDir, out, seed) : (await trainTabular(dataset, out, seed)).testAccuracy;
  const r = await verifyModel({ model: out, key, keyPath: "(bench key)", backend: "auto" });
  bank.push({
    seed,
    testAccuracy: acc,
    triggerMatches: r.trigger.matches,
    triggerPValue: r.trigger.pValue,
    weightBitErrors: r.weight.applicable ? r.weight.bitErrors : null,
    weightPValue: r.weight.applicable ? r.weight.pValue : null,
    verdict: r.verdict,
  });
  log(`null ${i + 1}/${nullModels} (seed ${seed}): ${r.trigger.matches}/${triggers} triggers, verdict ${r.verdict}`);
}
const nullPs = bank.flatMap((b) => [b.triggerPValue, ...(b.weightPValue === null ? [] : [b.weightPValue])]);
const result = {
  backend: info.backend,
  wasmThreads: info.wasm?.threads ?? null,
  model: modelDir,
  dataset,
  classes,
  carrier: plan.layer,
  baseline,
  embed: {
    baselineAccuracy: marked.baselineAccuracy,
    markedAccuracy: marked.markedAccuracy,
    accuracyDropPp: marked.accuracyDrop === null ? null : marked.accuracyDrop * 100,
    agreement: marked.agreement,
    heldOut: marked.heldOut,
    targets: marked.targets,
    augmented: marked.augmented,
    cachedFeatures: marked.cachedFeatures,
    triggerAccuracy: marked.triggerAccuracy,
    triggers: marked.triggers,
    bitErrors: marked.bitErrors,
    bits: marked.bits,
    epochs: marked.epochs,
    steps: marked.steps,
    embedSeconds: marked.embedSeconds,
    embedWallSeconds,
  },
  verifyMarked: {
    verdict: v.verdict,
    triggerMatches: v.trigger.matches,
    triggerLog10PValue: v.trigger.log10PValue,
    halfSetLog10PValue: halfLog10P,
    weightLog10PValue: v.weight.applicable ? v.weight.log10PValue : null,
  },
  nullBank: {
    models: bank,
    smallestPValue: nullPs.length === 0 ? null : Math.min(...nullPs),
    anyAtOrBelow1e3: nullPs.some((p) => p <= 1e-3),
  },
  targets: {
    embedAtMost5Minutes: embedWallSeconds <= 300,
    agreementAtLeast99: marked.agreement >= 0.99,
    triggerAccuracy100: marked.triggerAccuracy === 1,
    bitErrors0: marked.bitErrors === 0,
    halfSetPAtMost1e30: halfLog10P <= -30,
    noNullAtOrBelow1e3: !nullPs.some((p) => p <= 1e-3),
  },
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);

/** An independent head: the layers from the carrier's root layer on, re-initialised and trained on the labels. */
async function retrainHead(source: string, out: string, seed: number): Promise<number> {
  const model = await loadLayersModel(tf, source);
  try {
    const carrier = findCarrier(model, plan.layer, 64, source);
    const split = splitAtCarrier(model, carrier.layer);
    const data = await loadDataset(dataset as string, { io: plan.io, accept: "any" });
    const rng = createRng(seed, "null head");
    const layers = split ? split.head : model.layers;
    for (const l of layers) reinit(l, rng);
    const options = { data, augmented: data.kind === "image", teacher: false, rng };
    // The frozen prefix's outputs do not depend on the head: one pool serves every null head.
    pool ??= split ? featurePool(tf, options, split) : null;
    const clean = pool ?? streamingSource(tf, options, null);
    const forward = (x: tfTypes.Tensor) =>
      split ? applyLayers(split.head, x, true) : (model.apply(x, { training: true }) as tfTypes.Tensor);
    const opt = createAdam(tf, 1e-3);
    const vars = layers.flatMap((l) => l.trainableWeights.map((w) => w.read() as tfTypes.Variable));
    for (let s = 0; s < nullSteps; s++) {
      tf.tidy(() => {
        const b = clean.batch(64);
        opt.minimize(() => tf.metrics.categoricalCrossentropy(b.y, forward(b.x)).mean() as tfTypes.Scalar, false, vars);
      });
    }
    opt.dispose();
    await saveLikeSource(model, source, out, { overwrite: true });
    const x = tf.tensor(data.test.x, [data.test.count, ...data.inputShape]);
    const pred = tf.tidy(() => (model.predict(x) as tfTypes.Tensor).argMax(-1).dataSync());
    x.dispose();
    return data.test.count === 0 ? 1 : Array.from(pred).filter((p, i) => p === data.test.y[i]).length / data.test.count;
  } finally {
    disposeModel(model);
  }
}

/** Glorot-uniform kernels and zero biases, seeded. */
function reinit(layer: tfTypes.layers.Layer, rng: ReturnType<typeof createRng>): void {
  for (const w of layer.trainableWeights) {
    const shape = w.shape as number[];
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (shape.length >= 2) {
      const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const fanOut = shape.at(-1) as number;
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < size; i++) values[i] = (rng.next() * 2 - 1) * limit;
    }
    w.write(tf.tensor(values, shape));
  }
}

/** A tabular MLP trained on a CSV's labels: a frozen standardising Dense, two hidden layers, softmax. */
async function trainTabular(spec: string, out: string, seed: number) {
  const started = performance.now();
  const data = await loadDataset(spec, { accept: "any", ...(labelColumn ? { labelColumn } : {}) });
  if (data.kind !== "vector") throw new Error(`${spec} is not tabular`);
  const f = data.inputShape[0];
  const mean = new Float32Array(f);
  const std = new Float32Array(f);
  for (let i = 0; i < data.train.count; i++)
    for (let k = 0; k < f; k++) mean[k] = (mean[k] as number) + (data.train.x[i * f + k] as number) / data.train.count;
  for (let i = 0; i < data.train.count; i++)
    for (let k = 0; k < f; k++)
      std[k] = (std[k] as number) + ((data.train.x[i * f + k] as number) - (mean[k] as number)) ** 2 / data.train.count;
  const kernel = new Float32Array(f * f);
  const bias = new Float32Array(f);
  for (let k = 0; k < f; k++) {
    const s = Math.sqrt(std[k] as number) || 1;
    kernel[k * f + k] = 1 / s;
    bias[k] = -(mean[k] as number) / s;
  }
  let n = 0;
  const init = () => tf.initializers.glorotUniform({ seed: seed * 101 + n++ });
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [f],
        units: f,
        name: "standardise",
        trainable: false,
        weights: [tf.tensor2d(kernel, [f, f]), tf.tensor1d(bias)],
      }),
      tf.layers.dense({ units: 128, activation: "relu", name: "hidden1", kernelInitializer: init() }),
      tf.layers.dense({ units: 128, activation: "relu", name: "hidden2", kernelInitializer: init() }),
      tf.layers.dense({ units: data.numClasses, activation: "softmax", name: "output", kernelInitializer: init() }),
    ],
  });
  const rng = createRng(seed, "tabular");
  const clean = streamingSource(tf, { data, augmented: false, teacher: false, rng }, null);
  const opt = createAdam(tf, 3e-3);
  const steps = Math.ceil((data.train.count / 32) * 60);
  for (let s = 0; s < steps; s++) {
    tf.tidy(() => {
      const b = clean.batch(32);
      opt.minimize(
        () =>
          tf.metrics
            .categoricalCrossentropy(b.y, model.apply(b.x, { training: true }) as tfTypes.Tensor)
            .mean() as tfTypes.Scalar,
      );
    });
  }
  opt.dispose();
  await model.save(fileSaveHandler(tf, out, { overwrite: true }));
  const x = tf.tensor(data.test.x, [data.test.count, f]);
  const pred = tf.tidy(() => (model.predict(x) as tfTypes.Tensor).argMax(-1).dataSync());
  x.dispose();
  disposeModel(model);
  const testAccuracy = Array.from(pred).filter((p, i) => p === data.test.y[i]).length / data.test.count;
  return { testAccuracy, trainSeconds: (performance.now() - started) / 1000 };
}
