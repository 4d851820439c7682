import type * as tfTypes from "@tensorflow/tfjs";
import {
  type ImageInput,
  isPreprocessPreset,
  type ModelIO,
  modelIOSchema,
  PREPROCESS_PRESETS,
  type PreprocessPreset,
} from "../core/input/model-io.js";
import { ProvmarkError } from "../errors.js";
import { type BackendChoice, backendChoice, loadTf } from "./backend.js";
import { disposeModel } from "./dispose-model.js";
import { loadLayersModel } from "./fs-io-handler.js";
import { listLayers } from "./layers.js";
import { locateModel } from "./locate.js";
import { type ModelMetadata, readModelMetadata } from "./model-metadata.js";
import { describeOutput } from "./model-output.js";

/** What the user says where the model's files cannot (keygen and inspect flags). */
export interface ModelIOOverrides {
  /** A preset name of PREPROCESS_PRESETS (`--preprocess`). */
  preprocess?: string;
  /** Class names in output order (`--class-names`); replace metadata.json's labels. */
  classNames?: readonly string[];
  /** How encoded images of another size are brought to the input size (`--resize`). */
  resize?: ImageInput["resize"]["mode"];
  /** Vector models: per-feature [min, max], measured on the owner's data (a csv dataset). */
  ranges?: readonly (readonly [number, number])[];
  featureNames?: readonly string[];
}

export interface InferredIO {
  io: ModelIO;
  /** Where each part came from, one sentence each, for keygen's and inspect's output. */
  reasons: string[];
}

/**
 * Infers a model's ModelIO from its files: input shape and channels from the input layer, class
 * count from the output, class names from Teachable Machine's metadata.json or `classNames`, and
 * the preprocessing from a Teachable Machine export, a Keras Rescaling layer at the input, or
 * `preprocess`; it never guesses the preprocessing.
 * @throws ProvmarkError MODEL_INPUT_UNSUPPORTED, MODEL_OUTPUT_UNSUPPORTED, CLASS_NAMES_INVALID,
 *   PREPROCESS_REQUIRED, VECTOR_RANGES_REQUIRED, MODEL_METADATA_INVALID, USAGE, and the model loading errors
 * @example const { io, reasons } = await inferModelIO("test/fixtures/teachable-machine/image-model")
 */
export async function inferModelIO(
  modelDir: string,
  overrides: ModelIOOverrides = {},
  options: { backend?: BackendChoice } = {},
): Promise<InferredIO> {
  const loc = await locateModel(modelDir);
  const metadata = await readModelMetadata(loc.dir);
  const { tf } = await loadTf(options.backend ?? backendChoice());
  const model = await loadLayersModel(tf, modelDir);
  try {
    return describeModelIO(model, { metadata, overrides, modelPath: modelDir });
  } finally {
    disposeModel(model);
  }
}

export interface DescribeContext {
  metadata: ModelMetadata | undefined;
  overrides: ModelIOOverrides;
  /** The model as the user named it, for messages. */
  modelPath: string;
}

/** inferModelIO for a model already in memory (keygen loads it once for this and the carrier choice). */
export function describeModelIO(model: tfTypes.LayersModel, ctx: DescribeContext): InferredIO {
  const shown = ctx.modelPath;
  if (model.inputs.length !== 1) {
    throw new ProvmarkError("MODEL_INPUT_UNSUPPORTED", `${shown} has ${model.inputs.length} inputs`, {
      subject: shown,
      hints: ["provmark watermarks models with one input (an image or a feature vector)."],
    });
  }
  const dims = (model.inputs[0] as tfTypes.SymbolicTensor).shape.slice(1);
  // Classes first: a bad --class-names is reported even when the input needs a flag too.
  const out = describeOutput(model, shown);
  const classReasons = [...out.reasons];
  const names = classNames(out.classes, ctx, classReasons);
  const reasons: string[] = [];
  let input: ModelIO["input"];
  if (dims.length === 1) input = vectorInput(dims, ctx, reasons);
  else if (dims.length === 3) input = imageInput(model, dims, ctx, reasons);
  else {
    throw new ProvmarkError(
      "MODEL_INPUT_UNSUPPORTED",
      `${shown} takes inputs of shape [${dims.map((d) => d ?? "None").join(", ")}]: neither an image [height, width, channels] nor a feature vector`,
      { subject: shown, hints: ["Grayscale models need a channel axis: [h, w, 1]."] },
    );
  }
  reasons.push(...classReasons);
  return validated(
    { input, classes: { count: out.classes, ...(names === undefined ? {} : { names }) } },
    reasons,
    shown,
  );
}

function knownDims(dims: readonly (number | null)[], labels: readonly string[], shown: string): number[] {
  const unknown = labels.filter((_, i) => dims[i] === null || dims[i] === undefined);
  if (unknown.length > 0) {
    throw new ProvmarkError(
      "MODEL_INPUT_UNSUPPORTED",
      `${shown}'s input has unknown ${unknown.join(" and ")} ([${dims.map((d) => d ?? "None").join(", ")}])`,
      {
        subject: shown,
        hints: ["Re-export the model with a fixed input size: triggers and datasets are made for one shape."],
      },
    );
  }
  return dims as number[];
}

function imageInput(
  model: tfTypes.LayersModel,
  rawDims: readonly (number | null)[],
  ctx: DescribeContext,
  reasons: string[],
): ImageInput {
  const shown = ctx.modelPath;
  const [height, width, channels] = knownDims(rawDims, ["height", "width", "channels"], shown) as [
    number,
    number,
    number,
  ];
  if (channels !== 1 && channels !== 3) {
    throw new ProvmarkError("MODEL_INPUT_UNSUPPORTED", `${shown} takes images with ${channels} channels`, {
      subject: shown,
      hints: ["provmark feeds grayscale (1 channel) or colour (3 channels) images."],
    });
  }
  reasons.push(
    `Input ${height}×${width}×${channels} (${channels === 1 ? "grayscale" : "colour"}) from the input layer.`,
  );
  const tm = ctx.metadata?.teachableMachine?.kind === "image" ? ctx.metadata : undefined;
  const rescaling = inputRescaling(model);
  const p = ctx.overrides.preprocess;
  let preset: PreprocessPreset;
  if (p !== undefined) {
    if (!isPreprocessPreset(p)) {
      throw new ProvmarkError("USAGE", `unknown preprocessing preset ${JSON.stringify(p)}`, {
        subject: "--preprocess",
        hints: [presetListing()],
      });
    }
    preset = p;
    reasons.push(`Preprocessing ${p}, as given.`);
    if (rescaling !== undefined && p !== "raw") {
      reasons.push(`Note: the graph rescales its input itself (${rescaling}); ${p} scales it a second time.`);
    } else if (tm !== undefined && p !== "pixel/127-1") {
      reasons.push(`Note: ${tm.path} marks a Teachable Machine export, whose own preprocessing is pixel/127-1.`);
    }
  } else if (rescaling !== undefined) {
    preset = "raw";
    reasons.push(
      `Preprocessing raw: the graph starts with ${rescaling}, so the model rescales pixel values (0-255) itself.`,
    );
  } else if (tm !== undefined) {
    preset = "pixel/127-1";
    reasons.push(
      `Preprocessing pixel/127-1: ${tm.path} marks a Teachable Machine image export (TM scales by 1/127, not 1/127.5).`,
    );
  } else {
    throw new ProvmarkError(
      "PREPROCESS_REQUIRED",
      `cannot tell how ${shown} expects its pixels scaled: it is no Teachable Machine export and has no Rescaling layer`,
      {
        subject: shown,
        hints: ["Name the scaling the model was trained with, e.g. --preprocess pixel/255.", presetListing()],
      },
    );
  }
  const spec = PREPROCESS_PRESETS[preset];
  const channelOrder = "channelOrder" in spec ? spec.channelOrder : channels === 1 ? "gray" : "rgb";
  if (channels === 1 && channelOrder !== "gray") {
    throw new ProvmarkError(
      "USAGE",
      `preset ${preset} is for ${channelOrder} colour images; ${shown} takes grayscale`,
      {
        subject: "--preprocess",
        hints: [presetListing()],
      },
    );
  }
  const mode = ctx.overrides.resize ?? (tm !== undefined ? "center-crop" : "stretch");
  reasons.push(
    ctx.overrides.resize !== undefined
      ? `Images of another size: ${mode}, as given.`
      : tm !== undefined
        ? "Images of another size: scaled so the short side fits, then centre-cropped, as Teachable Machine does."
        : `Images of another size: stretched to ${height}×${width} (bilinear); pass --resize center-crop to crop instead.`,
  );
  if (channels === 1 && tm !== undefined) {
    reasons.push("Colour images become gray as 0.2989 R + 0.5870 G + 0.1140 B (Teachable Machine's formula).");
  }
  return {
    kind: "image",
    height,
    width,
    channels,
    channelOrder,
    preprocess: structuredClone(spec.preprocess) as ImageInput["preprocess"],
    resize: { mode, filter: "bilinear" },
  };
}

/** `Rescaling(scale, offset)` when the model's first computing layer is one (Keras preprocessing). */
function inputRescaling(model: tfTypes.LayersModel): string | undefined {
  const first = listLayers(model).find((l) => !l.container && l.className !== "InputLayer");
  if (first?.className !== "Rescaling") return undefined;
  const cfg = first.layer.getConfig() as { scale?: unknown; offset?: unknown };
  return `Rescaling(scale ${String(cfg.scale)}, offset ${String(cfg.offset ?? 0)}) at ${first.path}`;
}

function vectorInput(rawDims: readonly (number | null)[], ctx: DescribeContext, reasons: string[]): ModelIO["input"] {
  const shown = ctx.modelPath;
  const [features] = knownDims(rawDims, ["feature count"], shown) as [number];
  const { ranges, featureNames, preprocess, resize } = ctx.overrides;
  if (preprocess !== undefined || resize !== undefined) {
    throw new ProvmarkError("USAGE", `${shown} takes feature vectors: image preprocessing does not apply`, {
      subject: preprocess !== undefined ? "--preprocess" : "--resize",
      hints: ["Drop the flag; vector inputs go to the model as they are."],
    });
  }
  if (ranges === undefined) {
    throw new ProvmarkError(
      "VECTOR_RANGES_REQUIRED",
      `${shown} takes vectors of ${features} features, whose ranges only the training data can tell`,
      {
        subject: shown,
        hints: ["Pass the owner's data as a csv dataset (--dataset csv:<file>): per-feature min and max come from it."],
      },
    );
  }
  reasons.push(`Input: a vector of ${features} features; ranges from the data (${ranges.length} given).`);
  return {
    kind: "vector",
    features,
    ranges: ranges.map(([lo, hi]) => [lo, hi] as [number, number]),
    ...(featureNames === undefined ? {} : { featureNames: [...featureNames] }),
  };
}

function classNames(count: number, ctx: DescribeContext, reasons: string[]): string[] | undefined {
  const given = ctx.overrides.classNames;
  const fromFile = ctx.metadata?.labels;
  const names = given ?? fromFile;
  if (names === undefined) {
    reasons.push(`No class names (no metadata.json labels, no --class-names): classes are numbered 0-${count - 1}.`);
    return undefined;
  }
  const source = given !== undefined ? "--class-names" : `${ctx.metadata?.path} labels`;
  const problem =
    names.length !== count
      ? `${names.length} names for the model's ${count} classes`
      : names.some((n) => n.trim() === "")
        ? "an empty name"
        : new Set(names).size !== names.length
          ? "a repeated name"
          : undefined;
  if (problem !== undefined) {
    throw new ProvmarkError("CLASS_NAMES_INVALID", `${source} has ${problem}: ${JSON.stringify(names)}`, {
      subject: given !== undefined ? "--class-names" : (ctx.metadata?.path ?? ctx.modelPath),
      hints: [`Give exactly ${count} distinct names, in the order of the model's outputs.`],
    });
  }
  reasons.push(
    `Class names from ${source}${given !== undefined && fromFile !== undefined ? " (replacing metadata.json's)" : ""}.`,
  );
  return [...names];
}

function validated(io: ModelIO, reasons: string[], shown: string): InferredIO {
  const r = modelIOSchema.safeParse(io);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new ProvmarkError("USAGE", `the input description for ${shown} is invalid: ${problems}`, { subject: shown });
  }
  return { io: r.data, reasons };
}

/** One line per preset; `satisfies` makes a new preset in core fail to compile until it is described here. */
const PRESET_NOTES = {
  "pixel/255": "x/255",
  "pixel/127.5-1": "x/127.5 - 1",
  "pixel/127-1": "x/127 - 1, Teachable Machine",
  raw: "0-255 as they are, for models that rescale themselves",
  caffe: "BGR minus the ImageNet mean, Keras caffe",
  torch: "ImageNet mean and std",
} satisfies Record<PreprocessPreset, string>;

function presetListing(): string {
  return `Presets: ${Object.entries(PRESET_NOTES)
    .map(([name, note]) => `${name} (${note})`)
    .join(", ")}.`;
}
