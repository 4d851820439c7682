import { z } from "zod";

/**
 * One description of what a model takes and returns, recorded in the key and the certificate and read
 * by everything that feeds a model (triggers, embedding data, decoys, wire encodings, the lab). Core
 * knows this and nothing about MNIST; adapters turn folders, CSV files and encoded images into it.
 * New input kinds (token sequences) are new members of `inputSpecSchema`, not changes to callers.
 */

/** x = pixel · scale + offset, the same for every channel (pixel/255, pixel/127.5 − 1, ...). */
const affineSchema = z.object({
  type: z.literal("affine"),
  scale: z
    .number()
    .finite()
    .refine((v) => v !== 0, "scale must not be 0"),
  offset: z.number().finite(),
});
/** x = (pixel − mean[c]) / std[c] per channel, channels in the model's order (Keras caffe, torch). */
const meanStdSchema = z.object({
  type: z.literal("mean-std"),
  mean: z.array(z.number().finite()).min(1),
  std: z.array(z.number().finite().positive()).min(1),
});
export const preprocessSchema = z.discriminatedUnion("type", [affineSchema, meanStdSchema]);
export type Preprocess = z.infer<typeof preprocessSchema>;

export const imageInputSchema = z
  .object({
    kind: z.literal("image"),
    height: z.number().int().min(1).max(8192),
    width: z.number().int().min(1).max(8192),
    channels: z.union([z.literal(1), z.literal(3)]),
    /** Channel order the model expects; inputs are always held as gray or RGB bytes. */
    channelOrder: z.enum(["gray", "rgb", "bgr"]),
    preprocess: preprocessSchema,
    /** How an encoded image of another size is brought to height × width. */
    resize: z.object({
      mode: z.enum(["stretch", "center-crop", "pad"]),
      filter: z.enum(["bilinear", "nearest"]),
    }),
  })
  .superRefine((s, ctx) => {
    if ((s.channels === 1) !== (s.channelOrder === "gray")) {
      ctx.addIssue({ code: "custom", message: `channelOrder ${s.channelOrder} does not fit ${s.channels} channel(s)` });
    }
    if (s.preprocess.type === "mean-std") {
      for (const [name, list] of [
        ["mean", s.preprocess.mean],
        ["std", s.preprocess.std],
      ] as const) {
        if (list.length !== 1 && list.length !== s.channels) {
          ctx.addIssue({
            code: "custom",
            message: `preprocess.${name} has ${list.length} values for ${s.channels} channel(s)`,
          });
        }
      }
    }
  });
export type ImageInput = z.infer<typeof imageInputSchema>;

export const vectorInputSchema = z
  .object({
    kind: z.literal("vector"),
    features: z.number().int().min(1).max(1_000_000),
    featureNames: z.array(z.string().min(1)).optional(),
    /** Per-feature [min, max] seen in the owner's data at keygen: vector triggers are drawn inside. */
    ranges: z.array(z.tuple([z.number().finite(), z.number().finite()])),
  })
  .superRefine((s, ctx) => {
    if (s.ranges.length !== s.features) {
      ctx.addIssue({ code: "custom", message: `ranges has ${s.ranges.length} entries for ${s.features} features` });
    }
    s.ranges.forEach(([lo, hi], i) => {
      if (!(lo <= hi)) ctx.addIssue({ code: "custom", message: `ranges[${i}] has min ${lo} above max ${hi}` });
    });
    if (s.featureNames && s.featureNames.length !== s.features) {
      ctx.addIssue({
        code: "custom",
        message: `featureNames has ${s.featureNames.length} names for ${s.features} features`,
      });
    }
  });
export type VectorInput = z.infer<typeof vectorInputSchema>;

export const inputSpecSchema = z.discriminatedUnion("kind", [imageInputSchema, vectorInputSchema]);
export type InputSpec = z.infer<typeof inputSpecSchema>;

export const modelIOSchema = z
  .object({
    input: inputSpecSchema,
    classes: z.object({
      count: z.number().int().min(2).max(10_000),
      names: z.array(z.string().min(1)).optional(),
    }),
  })
  .superRefine((io, ctx) => {
    const names = io.classes.names;
    if (!names) return;
    if (names.length !== io.classes.count) {
      ctx.addIssue({ code: "custom", message: `${names.length} class names for ${io.classes.count} classes` });
    }
    if (new Set(names).size !== names.length) ctx.addIssue({ code: "custom", message: "class names repeat" });
  });
export type ModelIO = z.infer<typeof modelIOSchema>;

/** Values per input: H·W·C for images, the feature count for vectors. */
export function inputSize(spec: InputSpec): number {
  return spec.kind === "image" ? spec.height * spec.width * spec.channels : spec.features;
}

/** The model's input tensor shape without the batch axis. */
export function inputShape(spec: InputSpec): number[] {
  return spec.kind === "image" ? [spec.height, spec.width, spec.channels] : [spec.features];
}

/**
 * Named preprocessing conventions, resolved to a `Preprocess` (and the channel order they imply).
 * Teachable Machine's image models divide by 127 (not 127.5); Keras "caffe" is BGR minus the ImageNet
 * mean; "torch" is RGB scaled to [0, 1] then ImageNet mean and std.
 */
export const PREPROCESS_PRESETS = {
  "pixel/255": { preprocess: { type: "affine", scale: 1 / 255, offset: 0 } },
  "pixel/127.5-1": { preprocess: { type: "affine", scale: 1 / 127.5, offset: -1 } },
  "pixel/127-1": { preprocess: { type: "affine", scale: 1 / 127, offset: -1 } },
  raw: { preprocess: { type: "affine", scale: 1, offset: 0 } },
  caffe: {
    channelOrder: "bgr",
    preprocess: { type: "mean-std", mean: [103.939, 116.779, 123.68], std: [1, 1, 1] },
  },
  torch: {
    preprocess: {
      type: "mean-std",
      mean: [0.485 * 255, 0.456 * 255, 0.406 * 255],
      std: [0.229 * 255, 0.224 * 255, 0.225 * 255],
    },
  },
} as const satisfies Record<string, { preprocess: Preprocess; channelOrder?: "bgr" }>;
export type PreprocessPreset = keyof typeof PREPROCESS_PRESETS;

export function isPreprocessPreset(name: string): name is PreprocessPreset {
  return Object.hasOwn(PREPROCESS_PRESETS, name);
}

/**
 * Turns one input held as bytes (images: H×W×C row-major, channels last, gray or RGB) into what the
 * model takes: channels reordered to the model's order, then preprocessed. Vector inputs are already
 * the model's values and are copied as they are.
 */
export function toModelInput(spec: InputSpec, values: Uint8Array | Float32Array): Float32Array {
  const n = inputSize(spec);
  if (values.length !== n) throw new RangeError(`input has ${values.length} values, the model takes ${n}`);
  if (spec.kind === "vector") return Float32Array.from(values);
  const out = new Float32Array(n);
  const c = spec.channels;
  const p = spec.preprocess;
  for (let i = 0; i < n; i += c) {
    for (let ch = 0; ch < c; ch++) {
      const src = spec.channelOrder === "bgr" ? c - 1 - ch : ch;
      const v = values[i + src] as number;
      out[i + ch] =
        p.type === "affine"
          ? v * p.scale + p.offset
          : (v - (p.mean[ch] ?? (p.mean[0] as number))) / (p.std[ch] ?? (p.std[0] as number));
    }
  }
  return out;
}

/** The input model every v1 key and certificate implies: its shape, gray or RGB bytes, pixel / 255. */
export function legacyModelIO(shape: readonly [number, number, number], classes: number): ModelIO {
  const [height, width, channels] = shape;
  if (channels !== 1 && channels !== 3) throw new RangeError(`v1 input shape has ${channels} channels`);
  return {
    input: {
      kind: "image",
      height,
      width,
      channels,
      channelOrder: channels === 1 ? "gray" : "rgb",
      preprocess: PREPROCESS_PRESETS["pixel/255"].preprocess,
      resize: { mode: "stretch", filter: "bilinear" },
    },
    classes: { count: classes },
  };
}

/**
 * The inverse of toModelInput for images: the model's values back to gray or RGB bytes (channels
 * reordered back), each rounded to the nearest integer and clamped to [0, 255]. For a row that came
 * from bytes through toModelInput, this returns those bytes exactly (float32 error is far below ½);
 * any other row is moved to the nearest byte image, so the suspect sees it within ½ pixel step per value.
 */
export function fromModelInput(spec: InputSpec, row: Float32Array): Uint8Array {
  if (spec.kind !== "image") throw new RangeError("fromModelInput: vector inputs are not pixels");
  const n = inputSize(spec);
  if (row.length !== n) throw new RangeError(`input has ${row.length} values, the model takes ${n}`);
  const out = new Uint8Array(n);
  const c = spec.channels;
  const p = spec.preprocess;
  for (let i = 0; i < n; i += c) {
    for (let ch = 0; ch < c; ch++) {
      const v = row[i + ch] as number;
      const px =
        p.type === "affine"
          ? (v - p.offset) / p.scale
          : v * (p.std[ch] ?? (p.std[0] as number)) + (p.mean[ch] ?? (p.mean[0] as number));
      const dst = spec.channelOrder === "bgr" ? c - 1 - ch : ch;
      out[i + dst] = Number.isNaN(px) ? 0 : Math.min(255, Math.max(0, Math.round(px)));
    }
  }
  return out;
}
