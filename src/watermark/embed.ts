import { buildCertificate, type Certificate, certificateHash } from "../core/watermark/certificate.js";
import type { WatermarkKey } from "../core/watermark/params.js";
import { deriveTriggers } from "../core/watermark/triggers.js";
import { weightSecrets } from "../core/watermark/weight-mark.js";
import { ProvmarkError } from "../errors.js";
import { weightsDigestOf } from "../model/artifacts-digest.js";
import { assertOutputFree } from "../model/atomic-write.js";
import { type BackendChoice, loadTf } from "../model/backend.js";
import { loadDataset } from "../model/datasets/index.js";
import { disposeModel } from "../model/dispose-model.js";
import { loadLayersModel } from "../model/fs-io-handler.js";
import { saveLikeSource } from "../model/save-like-source.js";
import { accuracy } from "../model/train-loop.js";
import { VERSION } from "../version.js";
import { assertDatasetFitsModel, assertKeyFitsModel, findCarrier } from "./compat.js";
import { CERTIFICATE_FILE, EMBED_DEFAULTS, type EmbedSettings, SMALL_DATASET } from "./embed-defaults.js";
import { type EmbedPhase, tuneModel } from "./tune-model.js";

export { EMBED_DEFAULTS, type EmbedSettings } from "./embed-defaults.js";

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
  /** Progress of each phase: the frozen prefix's outputs computed once, then the fine-tune's steps. */
  onProgress?: (phase: EmbedPhase, done: number, total: number) => void;
}

export interface EmbedResult {
  out: string;
  backend: string;
  /** Test accuracy before and after (null for unlabelled data). */
  baselineAccuracy: number | null;
  markedAccuracy: number | null;
  accuracyDrop: number | null;
  /**
   * Fidelity: the fraction of held-out inputs on which the marked model answers as the original did
   * (seeded augmented views of the held-out images when training was augmented).
   */
  agreement: number;
  /** How many held-out inputs `agreement` was measured on. */
  heldOut: number;
  /** Whether the layers before the carrier ran once per example (their outputs held) instead of every step. */
  cachedFeatures: boolean;
  steps: number;
  /** How clean examples were trained: the labels or the original model's predictions; augmented or not. */
  targets: "labels" | "teacher";
  augmented: boolean;
  /** Weights fine-tuned (the rest, before the carrier, left as they were). */
  trainedWeights: number;
  triggerAccuracy: number;
  triggers: number;
  bitErrors: number;
  bits: number;
  /** Epochs run: an epoch is a pass over the clean training examples or over the triggers, whichever is longer. */
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
    const data = await loadDataset(req.dataset, { io, allowUnlabelled: true, accept: "any" });
    assertDatasetFitsModel(data, model, req.model);
    const small = data.train.count < SMALL_DATASET;
    const targets = s.targets === "auto" ? (!data.labelled || small ? "teacher" : "labels") : s.targets;
    if (targets === "labels" && !data.labelled) {
      throw new ProvmarkError("USAGE", `${req.dataset} has no labels: train towards the original model's answers`, {
        subject: "--targets",
        hints: ["Use --targets teacher (the default for unlabelled data)."],
      });
    }
    const augmented = data.kind === "image" && (s.augment === "on" || (s.augment === "auto" && small));
    const triggers = deriveTriggers(req.key);
    const { projection, message } = weightSecrets(req.key, carrier.length);
    const started = performance.now();
    const baselineAccuracy = data.labelled ? accuracy(tf, model, data.test, data) : null;
    const tuned = await tuneModel(tf, model, carrier, {
      data,
      triggers,
      projection,
      message,
      s,
      augmented,
      teacher: targets === "teacher",
      modelPath: req.model,
      ...(req.onProgress ? { onProgress: req.onProgress } : {}),
    });
    const markedAccuracy = data.labelled ? accuracy(tf, model, data.test, data) : null;
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
      agreement: tuned.agreement,
      heldOut: tuned.heldOut,
      cachedFeatures: tuned.cachedFeatures,
      steps: tuned.steps,
      targets,
      augmented,
      trainedWeights: tuned.trainedWeights,
      triggerAccuracy: tuned.triggerAccuracy,
      triggers: triggers.length,
      bitErrors: tuned.bitErrors,
      bits: params.bits,
      epochs: tuned.epochs,
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
