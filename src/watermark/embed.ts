import type * as tfTypes from "@tensorflow/tfjs";
import { augmentImage, DEFAULT_AUGMENTATION } from "../core/input/augment.js";
import { type ImageInput, type ModelIO, toModelInput } from "../core/input/model-io.js";
import { createRng, permutation } from "../core/rng.js";
import { buildCertificate, type Certificate, certificateHash } from "../core/watermark/certificate.js";
import type { WatermarkKey } from "../core/watermark/params.js";
import { deriveTriggers } from "../core/watermark/triggers.js";
import { carrierOf, countBitErrors, extractBits, weightSecrets } from "../core/watermark/weight-mark.js";
import { ProvmarkError } from "../errors.js";
import { createAdam } from "../model/adam.js";
import { weightsDigestOf } from "../model/artifacts-digest.js";
import { assertOutputFree } from "../model/atomic-write.js";
import { type BackendChoice, loadTf } from "../model/backend.js";
import { loadDataset } from "../model/datasets/index.js";
import { disposeModel } from "../model/dispose-model.js";
import { loadLayersModel } from "../model/fs-io-handler.js";
import { listLayers } from "../model/layers.js";
import { saveLikeSource } from "../model/save-like-source.js";
import { accuracy, dropoutReseeder, fillBatch } from "../model/train-loop.js";
import { VERSION } from "../version.js";
import { assertDatasetFitsModel, assertKeyFitsModel, type Carrier, findCarrier } from "./compat.js";
import { CERTIFICATE_FILE, EMBED_DEFAULTS, type EmbedSettings, SMALL_DATASET } from "./embed-defaults.js";
import { predictLabels, triggerBatch } from "./trigger-tensors.js";

type TF = typeof tfTypes;

export { EMBED_DEFAULTS, type EmbedSettings } from "./embed-defaults.js";

/** Steps between checks of both marks (a check costs about one step); embedding stops once they have held for two checks in a row. */
const CHECK_EVERY = 8;

export { CERTIFICATE_FILE };

export interface EmbedRequest {
  model: string;
  keyPath: string;
  key: WatermarkKey;
  dataset: string;
  out: string;
  force?: boolean;
  backend: BackendChoice;
  settings?: Partial<EmbedSettings>;
  now?: Date;
  onBatch?: (done: number, total: number) => void;
}

export interface EmbedResult {
  out: string;
  backend: string;
  /** Test accuracy before and after (null for unlabelled data). */
  baselineAccuracy: number | null;
  markedAccuracy: number | null;
  accuracyDrop: number | null;
  /** Fidelity: the fraction of held-out inputs on which the marked model answers as the original did. */
  agreement: number;
  /** How clean examples were trained: the labels or the original model's predictions; augmented or not. */
  targets: "labels" | "teacher";
  augmented: boolean;
  /** Weights fine-tuned (the rest, before the carrier, left as they were). */
  trainedWeights: number;
  triggerAccuracy: number;
  triggers: number;
  bitErrors: number;
  bits: number;
  epochs: number;
  embedSeconds: number;
  weightsDigest: string;
  certificateHash: string;
  certificate: Certificate;
  settings: EmbedSettings;
}

/**
 * Embeds both watermarks in one fine-tune: each batch mixes clean training examples with triggers
 * (key-derived inputs and labels), and the loss adds λ·BCE(sigmoid(X·w̄), b) on the key's layer.
 * Writes the marked model and its certificate atomically into `out`.
 */
export async function embedWatermark(req: EmbedRequest): Promise<EmbedResult> {
  const s: EmbedSettings = { ...EMBED_DEFAULTS, ...req.settings };
  await assertOutputFree(
    req.out,
    req.force ?? false,
    "Choose another --out, or pass --force to replace it once embedding succeeds.",
  );
  const { tf } = await loadTf(req.backend);
  const model = await loadLayersModel(tf, req.model);
  try {
    const { params } = req.key;
    assertKeyFitsModel(params, model, req.model, req.keyPath);
    const carrier = findCarrier(model, params.layer, params.bits, req.model);
    const io = params.io;
    const data = await loadDataset(
      req.dataset,
      io.input.kind === "image" ? { io: io as typeof io & { input: ImageInput }, allowUnlabelled: true } : {},
    );
    assertDatasetFitsModel(data, model, req.model);
    const small = data.train.count < SMALL_DATASET;
    const targets = s.targets === "auto" ? (!data.labelled || small ? "teacher" : "labels") : s.targets;
    if (targets === "labels" && !data.labelled) {
      throw new ProvmarkError("USAGE", `${req.dataset} has no labels: train towards the original model's answers`, {
        subject: "--targets",
        hints: ["Use --targets teacher (the default for unlabelled data)."],
      });
    }
    const augmented = s.augment === "on" || (s.augment === "auto" && small);
    const triggers = deriveTriggers(req.key);
    const { projection, message } = weightSecrets(req.key, carrier.length);
    const started = performance.now();
    const original = heldOutLabels(tf, model, data);
    const baselineAccuracy = data.labelled ? accuracy(tf, model, data.test, data) : null;
    const teacher = targets === "teacher" ? await loadLayersModel(tf, req.model) : null;
    let progress: Awaited<ReturnType<typeof fineTune>>;
    try {
      progress = await fineTune(tf, model, carrier, {
        data,
        triggers,
        projection,
        message,
        s,
        req,
        io,
        teacher,
        augmented,
      });
    } finally {
      if (teacher) disposeModel(teacher);
    }
    const markedAccuracy = data.labelled ? accuracy(tf, model, data.test, data) : null;
    const after = heldOutLabels(tf, model, data);
    const agreement = data.test.count === 0 ? 1 : after.filter((l, i) => l === original[i]).length / data.test.count;
    const embedSeconds = (performance.now() - started) / 1000;
    let certificate: Certificate | undefined;
    let weightsDigest = "";
    // The marked model keeps its source's topology and file layout (metadata.json and other files
    // copied), so it loads wherever the original did.
    await saveLikeSource(model, req.model, req.out, {
      overwrite: req.force ?? false,
      extraFiles: ({ specs, data }) => {
        weightsDigest = weightsDigestOf(specs, data);
        certificate = buildCertificate({
          key: req.key,
          triggers,
          projection,
          message,
          carrierLength: carrier.length,
          weightsDigest,
          createdAt: req.now ?? new Date(),
          tool: `provmark ${VERSION}`,
        });
        return { [CERTIFICATE_FILE]: `${JSON.stringify(certificate, null, 2)}\n` };
      },
    });
    const cert = certificate as unknown as Certificate;
    return {
      out: req.out,
      backend: tf.getBackend(),
      baselineAccuracy,
      markedAccuracy,
      accuracyDrop: baselineAccuracy === null || markedAccuracy === null ? null : baselineAccuracy - markedAccuracy,
      agreement,
      targets,
      augmented,
      trainedWeights: progress.trainedWeights,
      triggerAccuracy: progress.triggerAccuracy,
      triggers: triggers.length,
      bitErrors: progress.bitErrors,
      bits: params.bits,
      epochs: progress.epochs,
      embedSeconds,
      weightsDigest,
      certificateHash: certificateHash(cert),
      certificate: cert,
      settings: s,
    };
  } finally {
    // model.dispose() alone leaves a nested head's weights alive (dispose-model.ts).
    disposeModel(model);
  }
}

interface TuneInput {
  data: Awaited<ReturnType<typeof loadDataset>>;
  triggers: ReturnType<typeof deriveTriggers>;
  projection: Float32Array;
  message: Uint8Array;
  s: EmbedSettings;
  io: ModelIO;
  req: EmbedRequest;
  /** The original model, when clean examples are trained towards its predictions. */
  teacher: tfTypes.LayersModel | null;
  augmented: boolean;
}

async function fineTune(tf: TF, model: tfTypes.LayersModel, carrier: Carrier, t: TuneInput) {
  const { data, triggers, s } = t;
  const shape = data.inputShape;
  const px = shape[0] * shape[1] * shape[2];
  const T = t.message.length;
  const X = tf.tensor2d(t.projection, [T, carrier.length]);
  const b = tf.tensor1d(Float32Array.from(t.message));
  const trigX = triggerBatch(tf, triggers, t.io);
  const trigY = tf.tidy(() =>
    tf.oneHot(tf.tensor1d(Int32Array.from(triggers.map((x) => x.label)), "int32"), data.numClasses),
  );
  const optimizer = createAdam(tf, s.learningRate);
  const vars = trainedVariables(model, carrier, s.freeze);
  const image = data.kind === "image" ? (data.io.input as ImageInput) : null;
  const augmentShape = image ? { height: image.height, width: image.width, channels: image.channels } : null;
  const augBuf = new Uint8Array(px);
  const reseed = dropoutReseeder(model);
  const rng = createRng(s.seed, "embed");
  const perBatch = Math.max(1, Math.round(s.batchSize * s.triggerRatio));
  const total = data.train.count * s.maxEpochs;
  const xb = new Float32Array(s.batchSize * px);
  const yb = new Int32Array(s.batchSize);
  let trigOrder = permutation(triggers.length, rng);
  let trigPos = 0;
  let done = 0;
  let state = { triggerAccuracy: 0, bitErrors: T, epochs: 0 };
  let step = 0;
  let heldChecks = 0;
  try {
    training: for (let epoch = 0; epoch < s.maxEpochs; epoch++) {
      const order = permutation(data.train.count, rng);
      for (let start = 0; start < data.train.count; start += s.batchSize) {
        const n = Math.min(s.batchSize, data.train.count - start);
        fillBatch(data.train, order, start, n, shape, xb, yb);
        if (t.augmented && image && augmentShape && data.kind === "image") {
          for (let i = 0; i < n; i++) {
            const j = order[start + i] as number;
            augmentImage(
              data.train.pixels.subarray(j * px, (j + 1) * px),
              augmentShape,
              DEFAULT_AUGMENTATION,
              rng,
              augBuf,
            );
            xb.set(toModelInput(image, augBuf), i * px);
          }
        }
        const pick = new Int32Array(perBatch);
        for (let i = 0; i < perBatch; i++) {
          if (trigPos === trigOrder.length) {
            trigOrder = permutation(triggers.length, rng);
            trigPos = 0;
          }
          pick[i] = trigOrder[trigPos++] as number;
        }
        reseed(rng);
        const cost: tfTypes.Scalar = tf.tidy(() => {
          const idx = tf.tensor1d(pick, "int32");
          const clean = tf.tensor(xb.subarray(0, n * px), [n, ...shape]);
          const x = tf.concat([clean, tf.gather(trigX, idx)]);
          // Teacher targets: the original model's own probabilities on the very (augmented) inputs.
          const cleanY = t.teacher
            ? (t.teacher.predict(clean) as tfTypes.Tensor)
            : tf.oneHot(tf.tensor1d(yb.subarray(0, n), "int32"), data.numClasses);
          const y = tf.concat([cleanY, tf.gather(trigY, idx)]);
          return optimizer.minimize(
            () => {
              const pred = model.apply(x, { training: true }) as tfTypes.Tensor;
              const ce = tf.metrics.categoricalCrossentropy(y, pred).mean();
              // The sum over outputs has the mean's signs (extraction is unchanged) without its 1/out
              // factor, which would otherwise let the task loss drown the mark in wide layers.
              const w = (carrier.kernel.read() as tfTypes.Tensor).sum(-1).reshape([carrier.length, 1]);
              const logits = tf.matMul(X, w).reshape([T]);
              return ce.add(tf.losses.sigmoidCrossEntropy(b, logits).mul(s.lambda)) as tfTypes.Scalar;
            },
            true,
            vars,
          ) as tfTypes.Scalar;
        });
        const loss = (await cost.data())[0];
        cost.dispose();
        if (loss === undefined || !Number.isFinite(loss)) {
          throw new ProvmarkError("TRAINING_DIVERGED", `embedding loss became ${loss}`, {
            hints: ["Lower --lambda or the learning rate."],
          });
        }
        done += n;
        t.req.onBatch?.(done, total);
        if (++step % CHECK_EVERY === 0 || start + n >= data.train.count) {
          state = { ...measure(tf, model, carrier, trigX, triggers, t), epochs: done / data.train.count };
          heldChecks = state.triggerAccuracy === 1 && state.bitErrors === 0 ? heldChecks + 1 : 0;
          if (heldChecks >= 2) break training;
        }
      }
    }
  } finally {
    optimizer.dispose();
    tf.dispose([X, b, trigX, trigY]);
  }
  t.req.onBatch?.(total, total);
  return { ...state, trainedWeights: vars.length };
}

/**
 * The variables fine-tuning updates: with "before-carrier", those of the carrier layer and every
 * layer after it (in the model's topological order, nested models walked), so a pretrained backbone
 * before the carrier keeps its weights and costs no weight gradients.
 */
function trainedVariables(model: tfTypes.LayersModel, carrier: Carrier, freeze: EmbedSettings["freeze"]) {
  const all = model.trainableWeights;
  if (freeze === "none") return all.map((w) => w.read() as tfTypes.Variable);
  const leaves = listLayers(model).filter((l) => l.container === false);
  const at = leaves.findIndex((l) => l.path === carrier.layer);
  if (at < 0) return all.map((w) => w.read() as tfTypes.Variable);
  const keep = new Set(leaves.slice(at).flatMap((l) => l.layer.trainableWeights.map((w) => w.id)));
  return all.filter((w) => keep.has(w.id)).map((w) => w.read() as tfTypes.Variable);
}

function measure(
  tf: TF,
  model: tfTypes.LayersModel,
  carrier: Carrier,
  trigX: tfTypes.Tensor,
  triggers: TuneInput["triggers"],
  t: TuneInput,
): { triggerAccuracy: number; bitErrors: number } {
  const labels = predictLabels(tf, model, trigX);
  const hits = triggers.filter((x, i) => labels[i] === x.label).length;
  const kernel = (carrier.kernel.read() as tfTypes.Tensor).dataSync() as Float32Array;
  const bits = extractBits(t.projection, carrierOf(kernel, carrier.shape), t.message.length);
  return { triggerAccuracy: hits / triggers.length, bitErrors: countBitErrors(bits, t.message) };
}

/** The model's labels for the held-out split (fidelity: agreement with the original). */
function heldOutLabels(tf: TF, model: tfTypes.LayersModel, data: TuneInput["data"]): Int32Array {
  if (data.test.count === 0) return new Int32Array(0);
  const x = tf.tensor(data.test.x, [data.test.count, ...data.inputShape]);
  try {
    return predictLabels(tf, model, x, 64);
  } finally {
    x.dispose();
  }
}
