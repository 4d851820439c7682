import { legacyModelIO, type ModelIO } from "../../core/input/model-io.js";
import { ProvmarkError } from "../../errors.js";
import { type ImageDataset, modelInputs } from "./dataset.js";
import { imageInputOf } from "./load-options.js";

interface GraySplit {
  readonly pixels: Uint8Array;
  readonly y: Uint16Array;
  /** Model inputs already made (the mnist package's own [0, 1] floats); else made from `pixels`. */
  readonly x?: Float32Array;
}

export interface GrayDatasetParts {
  readonly name: string;
  readonly height: number;
  readonly width: number;
  /** Largest label + 1. */
  readonly classes: number;
  readonly train: GraySplit;
  readonly test: GraySplit;
  readonly splitNote: string;
  readonly io: ModelIO | undefined;
}

/**
 * mnist and idx: 8-bit gray images with integer labels. Without `io` they are what they always were,
 * pixel/255 at their own size (`legacyModelIO`); with it, the model must take gray images of that size
 * and at least that many classes, and `x` is made by its preprocessing.
 */
export function grayDataset(p: GrayDatasetParts): ImageDataset {
  const legacy = legacyModelIO([p.height, p.width, 1], p.classes);
  const io = p.io ?? legacy;
  const spec = imageInputOf(io, p.name);
  if (spec.channels !== 1 || spec.height !== p.height || spec.width !== p.width || io.classes.count < p.classes) {
    throw new ProvmarkError(
      "DATASET_MODEL_MISMATCH",
      `${p.name} holds ${p.height}×${p.width} gray images of ${p.classes} classes; the model takes ` +
        `${spec.height}×${spec.width}×${spec.channels} inputs and has ${io.classes.count} classes`,
      { subject: p.name, hints: ["Use a dataset of the model's own input size, channels and classes."] },
    );
  }
  const split = (s: GraySplit) => {
    const count = s.y.length;
    const x = p.io === undefined && s.x !== undefined ? s.x : modelInputs(spec, s.pixels, count);
    return { x, y: s.y, count, pixels: s.pixels };
  };
  return {
    kind: "image",
    name: p.name,
    io: { ...io, input: spec },
    inputShape: [p.height, p.width, 1],
    numClasses: io.classes.count,
    labelled: true,
    train: split(p.train),
    test: split(p.test),
    splitNote: p.splitNote,
  };
}
