import { z } from "zod";

/** Storage dtypes TF.js writes for quantized weights. */
export const QUANTIZED_DTYPES = ["uint8", "uint16", "float16"] as const;
/** Loaded dtypes provmark reads from weight shards (string weights are variable-length: unsupported). */
export const WEIGHT_DTYPES = ["float32", "int32", "bool", "complex64"] as const;

export const quantizationSchema = z.object({
  dtype: z.string(),
  scale: z.number().optional(),
  min: z.number().optional(),
  original_dtype: z.string().optional(),
});

export const weightSpecSchema = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.string(),
  quantization: quantizationSchema.optional(),
  group: z.string().optional(),
});

export const weightsGroupSchema = z.object({
  paths: z.array(z.string().min(1)),
  weights: z.array(weightSpecSchema),
});

export const weightsManifestSchema = z.array(weightsGroupSchema);

/** model.json of a LayersModel or GraphModel; unknown fields are kept, as TF.js keeps them. */
export const modelJsonSchema = z.looseObject({
  format: z.string().optional(),
  generatedBy: z.string().optional(),
  convertedBy: z.string().nullable().optional(),
  modelTopology: z.record(z.string(), z.unknown()).optional(),
  weightsManifest: weightsManifestSchema.optional(),
  trainingConfig: z.unknown().optional(),
  signature: z.unknown().optional(),
  userDefinedMetadata: z.record(z.string(), z.unknown()).optional(),
});

export type QuantizationSpec = z.infer<typeof quantizationSchema>;
export type WeightSpec = z.infer<typeof weightSpecSchema>;
export type WeightsGroup = z.infer<typeof weightsGroupSchema>;
export type ModelJson = z.infer<typeof modelJsonSchema>;

/** Bytes per element as stored: the quantized dtype when quantized, else the loaded dtype. */
export function storedBytesPerElement(spec: WeightSpec): number | undefined {
  const stored = spec.quantization?.dtype ?? spec.dtype;
  switch (stored) {
    case "float32":
    case "int32":
      return 4;
    case "complex64":
      return 8;
    case "bool":
    case "uint8":
      return 1;
    case "uint16":
    case "float16":
      return 2;
    default:
      return undefined;
  }
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
