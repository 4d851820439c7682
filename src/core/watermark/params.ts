import { z } from "zod";

export const TRIGGER_FAMILIES = ["noise", "stamp", "mixed"] as const;
export type TriggerFamily = (typeof TRIGGER_FAMILIES)[number];

/** Everything a watermark key fixes besides its seed. Stored encrypted with the seed. */
export const watermarkParamsSchema = z.object({
  classes: z.number().int().min(2).max(10_000),
  inputShape: z.tuple([z.number().int().min(1), z.number().int().min(1), z.number().int().min(1)]),
  /** Layer whose kernel carries the weight watermark. */
  layer: z.string().min(1),
  /** Message length T of the weight watermark. */
  bits: z.number().int().min(1).max(256),
  /** Size of the trigger set. */
  triggers: z.number().int().min(1).max(100_000),
  family: z.enum(TRIGGER_FAMILIES),
  /** Amplitude of the key-derived stamp added to in-distribution images (stamp family), in [0, 1]. */
  stampStrength: z.number().min(0).max(1),
});
export type WatermarkParams = z.infer<typeof watermarkParamsSchema>;

/** A base image for stamp triggers: chosen from a dataset at keygen, kept (encrypted) in the key. */
export interface StampBase {
  pixels: Uint8Array;
  label: number;
}

/** The secret: 32 random bytes, its parameters, and (stamp family) the chosen base images. */
export interface WatermarkKey {
  seed: Uint8Array;
  params: WatermarkParams;
  stampBases: StampBase[];
}

export function pixelCount(p: Pick<WatermarkParams, "inputShape">): number {
  return p.inputShape[0] * p.inputShape[1] * p.inputShape[2];
}

/** How many of the triggers are stamp triggers (the rest are noise triggers). */
export function stampTriggerCount(p: Pick<WatermarkParams, "family" | "triggers">): number {
  if (p.family === "stamp") return p.triggers;
  if (p.family === "mixed") return Math.floor(p.triggers / 2);
  return 0;
}
