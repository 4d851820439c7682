import { z } from "zod";
import { canonicalHash } from "../canonical-json.js";
import { merkleRoot, triggerLeaf } from "../commit/merkle.js";
import { toHex } from "../digest/bytes.js";
import { keyCommitment, secretCommitment } from "../keys/derive.js";
import { TRIGGER_FAMILIES, type WatermarkKey } from "./params.js";
import type { Trigger } from "./triggers.js";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

/** The public watermark certificate: what a release commits to, without any secret. */
export const certificateSchema = z.object({
  schema: z.literal("provmark/certificate/v1"),
  createdAt: z.string(),
  tool: z.string(),
  keyCommitment: hex64,
  model: z.object({ weightsDigest: hex64 }),
  input: z.object({
    shape: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
    classes: z.number().int(),
    /** How trigger pixels reach the model. */
    scaling: z.literal("pixel/255"),
  }),
  weightWatermark: z.object({
    layer: z.string(),
    bits: z.number().int(),
    /** Length of the carrier vector: the kernel averaged over its output axis. */
    carrierLength: z.number().int(),
    reduction: z.literal("mean-over-output-axis"),
    projectionCommitment: hex64,
    messageCommitment: hex64,
  }),
  triggerSet: z.object({
    count: z.number().int(),
    family: z.enum(TRIGGER_FAMILIES),
    merkleRoot: hex64,
    leafEncoding: z.literal("sha256(0x00 ‖ 'provmark/trigger/v1\\0' ‖ u32le(index) ‖ sha256(pixels) ‖ u32le(label))"),
    /** Per family, the largest probability that a model never trained with the key predicts a trigger's label. */
    nullMatchProbability: z.object({ noise: z.number(), stamp: z.number() }),
  }),
});
export type Certificate = z.infer<typeof certificateSchema>;

export interface CertificateInput {
  key: WatermarkKey;
  triggers: readonly Trigger[];
  projection: Float32Array;
  message: Uint8Array;
  carrierLength: number;
  weightsDigest: string;
  createdAt: Date;
  tool: string;
}

export function buildCertificate(c: CertificateInput): Certificate {
  const { params, seed } = c.key;
  return {
    schema: "provmark/certificate/v1",
    createdAt: c.createdAt.toISOString(),
    tool: c.tool,
    keyCommitment: toHex(keyCommitment(seed)),
    model: { weightsDigest: c.weightsDigest },
    input: { shape: params.inputShape, classes: params.classes, scaling: "pixel/255" },
    weightWatermark: {
      layer: params.layer,
      bits: params.bits,
      carrierLength: c.carrierLength,
      reduction: "mean-over-output-axis",
      projectionCommitment: toHex(
        secretCommitment(
          seed,
          "projection",
          new Uint8Array(c.projection.buffer, c.projection.byteOffset, c.projection.byteLength),
        ),
      ),
      messageCommitment: toHex(secretCommitment(seed, "message", c.message)),
    },
    triggerSet: {
      count: c.triggers.length,
      family: params.family,
      merkleRoot: toHex(merkleRoot(c.triggers.map((t) => triggerLeaf(t.index, t.input, t.label)))),
      leafEncoding: "sha256(0x00 ‖ 'provmark/trigger/v1\\0' ‖ u32le(index) ‖ sha256(pixels) ‖ u32le(label))",
      nullMatchProbability: { noise: 1 / params.classes, stamp: 1 / (params.classes - 1) },
    },
  };
}

/** The hash that goes on chain: SHA-256 of the certificate's canonical JSON. */
export function certificateHash(cert: Certificate): string {
  return canonicalHash(cert);
}
