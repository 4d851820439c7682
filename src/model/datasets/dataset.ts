import {
  type ImageInput,
  type InputSpec,
  inputSize,
  type ModelIO,
  toModelInput,
  type VectorInput,
} from "../../core/input/model-io.js";

/**
 * Examples held as plain arrays (tensors are made per batch by the trainer). Example i is
 * `x[i·size .. (i+1)·size)` where size is the product of the dataset's `inputShape`.
 */
export interface Split {
  /** count × size values the model takes (its preprocessing applied), row-major, channels last. */
  readonly x: Float32Array;
  /** count class indices in [0, numClasses); empty when the dataset is unlabelled. */
  readonly y: Uint16Array;
  readonly count: number;
}

/** An image split also keeps the bytes `x` was made from: augmentation and stamp triggers work on them. */
export interface ImageSplit extends Split {
  /** count × H·W·C bytes, gray or RGB (never BGR), before preprocessing. */
  readonly pixels: Uint8Array;
}

interface DatasetBase {
  /** The spec it was loaded from, e.g. `mnist`, `images:/data/cats-dogs`, `csv:iris.csv`. */
  readonly name: string;
  /** The model input and classes the examples were made for: the caller's, or inferred (see each loader). */
  readonly io: ModelIO;
  /** io.classes.count. */
  readonly numClasses: number;
  /** False for `unlabeled:<dir>`: `y` is empty and targets come from the model being marked. */
  readonly labelled: boolean;
  /** How the split was made, for reports. */
  readonly splitNote: string;
}

export interface ImageDataset extends DatasetBase {
  readonly kind: "image";
  readonly io: ModelIO & { readonly input: ImageInput };
  /** [height, width, channels] of io.input. */
  readonly inputShape: readonly [number, number, number];
  readonly train: ImageSplit;
  readonly test: ImageSplit;
}

export interface VectorDataset extends DatasetBase {
  readonly kind: "vector";
  readonly io: ModelIO & { readonly input: VectorInput };
  /** [features]. */
  readonly inputShape: readonly [number];
  readonly train: Split;
  readonly test: Split;
}

export type Dataset = ImageDataset | VectorDataset;

/** Values per example: the product of the input shape (H·W·C, or the feature count). */
export function pixelsPerExample(d: { readonly inputShape: readonly number[] }): number {
  return d.inputShape.reduce((a, b) => a * b, 1);
}

/** The examples at `indices`, copied into a new split (`size` values per example). */
export function takeExamples(src: ImageSplit, indices: ArrayLike<number>, size: number): ImageSplit;
export function takeExamples(src: Split, indices: ArrayLike<number>, size: number): Split;
export function takeExamples(
  src: Split & { pixels?: Uint8Array },
  indices: ArrayLike<number>,
  size: number,
): Split | ImageSplit {
  const n = indices.length;
  const x = new Float32Array(n * size);
  const y = new Uint16Array(src.y.length === 0 ? 0 : n);
  const pixels = src.pixels === undefined ? undefined : new Uint8Array(n * size);
  for (let i = 0; i < n; i++) {
    const j = indices[i] as number;
    x.set(src.x.subarray(j * size, (j + 1) * size), i * size);
    if (y.length > 0) y[i] = src.y[j] as number;
    pixels?.set((src.pixels as Uint8Array).subarray(j * size, (j + 1) * size), i * size);
  }
  return pixels === undefined ? { x, y, count: n } : { x, y, count: n, pixels };
}

/** The model inputs of `count` examples held as bytes (images) or values (vectors), back to back. */
export function modelInputs(spec: InputSpec, values: Uint8Array | Float32Array, count: number): Float32Array {
  const size = inputSize(spec);
  const x = new Float32Array(values.length);
  for (let i = 0; i < count; i++) x.set(toModelInput(spec, values.subarray(i * size, (i + 1) * size)), i * size);
  return x;
}

/** The examples at `indices` of images held as bytes, with their model inputs made for `spec`. */
export function imageSplit(
  spec: InputSpec,
  pixels: Uint8Array,
  labels: Uint16Array,
  indices: readonly number[],
): ImageSplit {
  const size = inputSize(spec);
  const part = new Uint8Array(indices.length * size);
  indices.forEach((j, i) => {
    part.set(pixels.subarray(j * size, (j + 1) * size), i * size);
  });
  const y = labels.length === 0 ? new Uint16Array(0) : Uint16Array.from(indices, (j) => labels[j] as number);
  return { x: modelInputs(spec, part, indices.length), y, count: indices.length, pixels: part };
}
