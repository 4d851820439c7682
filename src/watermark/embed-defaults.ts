/** Fine-tuning settings; the defaults meet the fidelity targets on the built-in MNIST MLP. */
export interface EmbedSettings {
  /** Upper bound on fine-tuning epochs; embedding stops early once both marks are in place. */
  maxEpochs: number;
  batchSize: number;
  learningRate: number;
  /** Weight λ of the weight-watermark term BCE(sigmoid(X·w), b). */
  lambda: number;
  /** Trigger examples added to each batch, as a fraction of its clean examples. */
  triggerRatio: number;
  seed: number;
}

export const EMBED_DEFAULTS: EmbedSettings = {
  maxEpochs: 4,
  batchSize: 128,
  learningRate: 1e-3,
  lambda: 0.01,
  triggerRatio: 0.35,
  seed: 1,
};

/** File name of the public certificate `embed` writes next to the marked model. */
export const CERTIFICATE_FILE = "watermark-certificate.json";
