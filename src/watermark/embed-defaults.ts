/** Fine-tuning settings; the defaults meet the fidelity targets on the built-in MNIST MLP. */
export interface EmbedSettings {
  /**
   * Upper bound on fine-tuning epochs; embedding stops early once both marks are in place. "auto":
   * 4 epochs, or for small datasets (which make short epochs) as many as {@link SMALL_DATASET_STEPS} steps take.
   */
  maxEpochs: number | "auto";
  batchSize: number;
  learningRate: number;
  /** Weight λ of the weight-watermark term BCE(sigmoid(X·w), b). */
  lambda: number;
  /** Trigger examples added to each batch, as a fraction of its clean examples. */
  triggerRatio: number;
  seed: number;
  /**
   * What the clean examples are trained towards: the dataset's labels, or the original model's own
   * predictions (self-distillation: fidelity to a model trained elsewhere). "auto": the teacher for
   * unlabelled or small datasets (under 1,000 training examples), else the labels.
   */
  targets: "auto" | "labels" | "teacher";
  /** Seeded random crops, flips and colour jitter of image examples; "auto": on under 1,000 examples. */
  augment: "auto" | "on" | "off";
  /**
   * "before-carrier": layers before the carrier stay as they are (often public pretrained weights, and
   * most of the compute of a backward pass); "none": every trainable weight is fine-tuned.
   */
  freeze: "before-carrier" | "none";
}

export const EMBED_DEFAULTS: EmbedSettings = {
  maxEpochs: "auto",
  batchSize: 128,
  learningRate: 1e-3,
  lambda: 0.01,
  triggerRatio: 0.35,
  seed: 1,
  targets: "auto",
  augment: "auto",
  freeze: "before-carrier",
};

/** Below this many training examples a dataset counts as small (teacher targets, augmentation). */
export const SMALL_DATASET = 1000;

/** Epochs "auto" means on datasets that are not small. */
export const AUTO_EPOCHS = 4;

/**
 * The step budget "auto" gives small datasets: measured on the Teachable Machine fixture (22 images,
 * 356 triggers at 2 classes), 800 steps left a trigger or two unlearnt; the run stops early once
 * both marks hold, so the budget only costs time when they do not.
 */
export const SMALL_DATASET_STEPS = 2400;

/** File name of the public certificate `embed` writes next to the marked model. */
export const CERTIFICATE_FILE = "watermark-certificate.json";
