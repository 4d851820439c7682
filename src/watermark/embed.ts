import type * as tfTypes from "@tensorflow/tfjs";
import type { ModelIO } from "../core/input/model-io.js";
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
import { saveLikeSource } from "../model/save-like-source.js";
import { accuracy, dropoutReseeder, fillBatch } from "../model/train-loop.js";
import { VERSION } from "../version.js";
import { assertDatasetFitsModel, assertKeyFitsModel, type Carrier, findCarrier } from "./compat.js";
import { CERTIFICATE_FILE, EMBED_DEFAULTS, type EmbedSettings } from "./embed-defaults.js";
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
  baselineAccuracy: number;
  markedAccuracy: number;
  accuracyDrop: number;
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
    const data = await loadDataset(req.dataset);
    assertDatasetFitsModel(data, model, req.model);
    const triggers = deriveTriggers(req.key);
    const { projection, message } = weightSecrets(req.key, carrier.length);
    const started = performance.now();
    const baselineAccuracy = accuracy(tf, model, data.test, data);
    const progress = await fineTune(tf, model, carrier, { data, triggers, projection, message, s, req, io: params.io });
    const markedAccuracy = accuracy(tf, model, data.test, data);
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
      accuracyDrop: baselineAccuracy - markedAccuracy,
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
  const vars = model.trainableWeights.map((w) => w.read() as tfTypes.Variable);
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
          const x = tf.concat([tf.tensor(xb.subarray(0, n * px), [n, ...shape]), tf.gather(trigX, idx)]);
          const y = tf.concat([
            tf.oneHot(tf.tensor1d(yb.subarray(0, n), "int32"), data.numClasses),
            tf.gather(trigY, idx),
          ]);
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
  return state;
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
