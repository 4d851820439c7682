import { z } from "zod";
import { inputShape, legacyModelIO, type ModelIO, modelIOSchema } from "../input/model-io.js";

export const TRIGGER_FAMILIES = ["noise", "stamp", "mixed"] as const;
export type TriggerFamily = (typeof TRIGGER_FAMILIES)[number];

/**
 * How a key's secrets are derived. `hkdf/v1`: triggers, labels, projection and message from HKDF
 * streams of the seed, committed by a Merkle root (labels not provably fixed at release).
 * `vrf/v2`: every trigger and both weight-mark secrets from the outputs of a BLS VRF whose public key
 * is in the certificate, so anyone can check them without the seed (docs/watermark.md).
 */
export const DERIVATIONS = ["hkdf/v1", "vrf/v2"] as const;
export type Derivation = (typeof DERIVATIONS)[number];

const common = {
  /** Layer whose kernel carries the weight watermark (full nested path). */
  layer: z.string().min(1),
  /** Message length T of the weight watermark. */
  bits: z.number().int().min(1).max(256),
  /** Size of the trigger set. */
  triggers: z.number().int().min(1).max(100_000),
  family: z.enum(TRIGGER_FAMILIES),
  /** Amplitude of the key-derived stamp added to in-distribution images (stamp family), in [0, 1]. */
  stampStrength: z.number().min(0).max(1),
};

/** Parameters as v1 key files store them (MNIST-era: a shape and a class count, pixel / 255). */
export const watermarkParamsV1Schema = z.object({
  classes: z.number().int().min(2).max(10_000),
  inputShape: z.tuple([z.number().int().min(1), z.number().int().min(1), z.number().int().min(1)]),
  ...common,
});
export type WatermarkParamsV1 = z.infer<typeof watermarkParamsV1Schema>;

/** Everything a watermark key fixes besides its seed. Stored encrypted with the seed. */
export const watermarkParamsSchema = z
  .object({
    derivation: z.enum(DERIVATIONS),
    io: modelIOSchema,
    /** Triggers per detection run (v2: runs take consecutive blocks of a committed order). */
    runSize: z.number().int().min(1).max(100_000),
    ...common,
  })
  .superRefine((p, ctx) => {
    if (p.io.input.kind === "vector" && p.family !== "noise") {
      ctx.addIssue({ code: "custom", message: `vector models take noise triggers only, not ${p.family}` });
    }
    if (p.runSize > p.triggers) {
      ctx.addIssue({ code: "custom", message: `runSize ${p.runSize} exceeds the ${p.triggers} triggers` });
    }
  });
export type WatermarkParams = z.infer<typeof watermarkParamsSchema>;

/** A v1 key's parameters in today's shape: the input model v1 implied, HKDF derivation. */
export function paramsFromV1(p: WatermarkParamsV1): WatermarkParams {
  return {
    derivation: "hkdf/v1",
    io: legacyModelIO(p.inputShape, p.classes),
    runSize: Math.max(1, Math.ceil(p.triggers / 2)),
    layer: p.layer,
    bits: p.bits,
    triggers: p.triggers,
    family: p.family,
    stampStrength: p.stampStrength,
  };
}

/**
 * A base image for stamp triggers: chosen from the owner's data at keygen, kept (encrypted) in the
 * key, committed (v2) by the stamp set's Merkle root. `label` is v1 only: v2 labels never depend on it.
 */
export interface StampBase {
  pixels: Uint8Array;
  label?: number;
}

/** The secret: 32 random bytes, its parameters, and (stamp family) the chosen base images. */
export interface WatermarkKey {
  seed: Uint8Array;
  params: WatermarkParams;
  stampBases: StampBase[];
}

export function classCount(p: Pick<WatermarkParams, "io">): number {
  return p.io.classes.count;
}

/** The model's input shape without the batch axis ([h, w, c] for images, [features] for vectors). */
export function modelInputShape(p: Pick<WatermarkParams, "io">): number[] {
  return inputShape(p.io.input);
}

/** Values per input: H·W·C for images, the feature count for vectors. */
export function pixelCount(p: Pick<WatermarkParams, "io">): number {
  return modelInputShape(p).reduce((a, b) => a * b, 1);
}

/** How many of the triggers are stamp triggers (the rest are noise triggers). */
export function stampTriggerCount(p: Pick<WatermarkParams, "family" | "triggers">): number {
  if (p.family === "stamp") return p.triggers;
  if (p.family === "mixed") return Math.floor(p.triggers / 2);
  return 0;
}

/** Image models only: the [h, w, c] of their inputs (v1 code paths and image triggers). */
export function imageShape(io: ModelIO): [number, number, number] {
  if (io.input.kind !== "image") throw new RangeError(`the model takes ${io.input.kind} inputs, not images`);
  return [io.input.height, io.input.width, io.input.channels];
}

/**
 * v2 parameters for an image model described the v1 way (shape, classes, pixel / 255): what tests,
 * benchmarks and the MNIST demo use. The run size is half the set.
 */
export function imageParams(p: WatermarkParamsV1): WatermarkParams {
  return { ...paramsFromV1(p), derivation: "vrf/v2" };
}
