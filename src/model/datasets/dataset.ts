/** A labelled image dataset held as plain arrays (tensors are made per batch by the trainer). */
export interface Split {
  /** count × (h·w·c) pixels in [0, 1], row-major, channels last. */
  readonly x: Float32Array;
  readonly y: Uint8Array;
  readonly count: number;
}

export interface Dataset {
  /** The spec it was loaded from, e.g. `mnist` or `idx:/usr/share/datasets/fashion-mnist`. */
  readonly name: string;
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly train: Split;
  readonly test: Split;
  /** How the split was made, for reports. */
  readonly splitNote: string;
}

export function pixelsPerExample(d: Pick<Dataset, "inputShape">): number {
  return d.inputShape[0] * d.inputShape[1] * d.inputShape[2];
}

/** The examples at `indices`, copied into a new split. */
export function takeExamples(src: Split, indices: ArrayLike<number>, pixels: number): Split {
  const x = new Float32Array(indices.length * pixels);
  const y = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i] as number;
    x.set(src.x.subarray(j * pixels, (j + 1) * pixels), i * pixels);
    y[i] = src.y[j] as number;
  }
  return { x, y, count: indices.length };
}
