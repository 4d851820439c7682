import { z } from "zod";
import { canonicalHash } from "../canonical-json.js";
import { merkleRoot, triggerLeaf } from "../commit/merkle.js";
import { toHex } from "../digest/bytes.js";
import { legacyModelIO, type ModelIO, modelIOSchema } from "../input/model-io.js";
import { keyCommitment, secretCommitment } from "../keys/derive.js";
import { VRF_SCHEME, vrfKeyPair } from "../keys/vrf.js";
import { imageShape, TRIGGER_FAMILIES, type WatermarkKey } from "./params.js";
import { STAMP_LEAF_ENCODING, type TriggerSetSpec, triggerSetSpecOf } from "./trigger-derivation.js";
import { type Trigger, triggerPixels } from "./triggers.js";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

/** v1 certificates (MNIST-era, HKDF secrets committed by hashes and a Merkle root). Still read. */
export const certificateV1Schema = z.object({
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
export type CertificateV1 = z.infer<typeof certificateV1Schema>;

/**
 * v2: the input model, and a VRF public key from which every trigger and the weight mark's
 * projection and message are verifiable functions — no null probability field: a verifier derives
 * 1/C from the class count, one rule for every family.
 */
export const certificateV2Schema = z.object({
  schema: z.literal("provmark/certificate/v2"),
  createdAt: z.string(),
  tool: z.string(),
  keyCommitment: hex64,
  vrf: z.object({ scheme: z.literal(VRF_SCHEME), publicKey: z.string().regex(/^[0-9a-f]{192}$/) }),
  model: z.object({
    weightsDigest: hex64,
    carrier: z.object({
      /** Full nested path of the layer whose kernel carries the weight mark. */
      layer: z.string().min(1),
      /** Length of the carrier vector: the kernel averaged over its output axis. */
      carrierLength: z.number().int().min(1),
      reduction: z.literal("mean-over-output-axis"),
    }),
  }),
  io: modelIOSchema,
  weightWatermark: z.object({ bits: z.number().int().min(1).max(256), derivation: z.literal("vrf/v2") }),
  triggerSet: z.object({
    count: z.number().int().min(1),
    family: z.enum(TRIGGER_FAMILIES),
    /** Triggers per detection run: run b takes block b of the committed run orders. */
    runSize: z.number().int().min(1),
    stampStrength: z.number().min(0).max(1),
    derivation: z.literal("vrf/v2"),
    stampSet: z
      .object({ count: z.number().int().min(1), merkleRoot: hex64, leafEncoding: z.literal(STAMP_LEAF_ENCODING) })
      .nullable(),
  }),
});
export type CertificateV2 = z.infer<typeof certificateV2Schema>;

export const certificateSchema = z.discriminatedUnion("schema", [certificateV1Schema, certificateV2Schema]);
export type Certificate = z.infer<typeof certificateSchema>;

/** The input model a certificate describes (v1: the MNIST-era shape with pixel / 255). */
export function certificateIO(cert: Certificate): ModelIO {
  return cert.schema === "provmark/certificate/v2" ? cert.io : legacyModelIO(cert.input.shape, cert.input.classes);
}

export function certificateClasses(cert: Certificate): number {
  return certificateIO(cert).classes.count;
}

/** The trigger-set description a v2 certificate commits to (what every trigger message binds). */
export function triggerSetSpecOfCertificate(cert: CertificateV2): TriggerSetSpec {
  const t = cert.triggerSet;
  return {
    io: cert.io,
    family: t.family,
    count: t.count,
    stampStrength: t.stampStrength,
    runSize: t.runSize,
    stampSet: t.stampSet ? { count: t.stampSet.count, merkleRoot: t.stampSet.merkleRoot } : null,
  };
}

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

/** The certificate of a key's release: v2 for v2 keys, v1 (as before) for keys made by older versions. */
export function buildCertificate(c: CertificateInput): Certificate {
  return c.key.params.derivation === "vrf/v2" ? buildCertificateV2(c) : buildCertificateV1(c);
}

function buildCertificateV2(c: CertificateInput): CertificateV2 {
  const { params, seed } = c.key;
  const spec = triggerSetSpecOf(c.key);
  return {
    schema: "provmark/certificate/v2",
    createdAt: c.createdAt.toISOString(),
    tool: c.tool,
    keyCommitment: toHex(keyCommitment(seed)),
    vrf: { scheme: VRF_SCHEME, publicKey: toHex(vrfKeyPair(seed).publicKey) },
    model: {
      weightsDigest: c.weightsDigest,
      carrier: { layer: params.layer, carrierLength: c.carrierLength, reduction: "mean-over-output-axis" },
    },
    io: params.io,
    weightWatermark: { bits: params.bits, derivation: "vrf/v2" },
    triggerSet: {
      count: spec.count,
      family: spec.family,
      runSize: spec.runSize,
      stampStrength: spec.stampStrength,
      derivation: "vrf/v2",
      stampSet: spec.stampSet ? { ...spec.stampSet, leafEncoding: STAMP_LEAF_ENCODING } : null,
    },
  };
}

function buildCertificateV1(c: CertificateInput): CertificateV1 {
  const { params, seed } = c.key;
  const classes = params.io.classes.count;
  return {
    schema: "provmark/certificate/v1",
    createdAt: c.createdAt.toISOString(),
    tool: c.tool,
    keyCommitment: toHex(keyCommitment(seed)),
    model: { weightsDigest: c.weightsDigest },
    input: { shape: imageShape(params.io), classes, scaling: "pixel/255" },
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
      merkleRoot: toHex(merkleRoot(c.triggers.map((t) => triggerLeaf(t.index, triggerPixels(t), t.label)))),
      leafEncoding: "sha256(0x00 ‖ 'provmark/trigger/v1\\0' ‖ u32le(index) ‖ sha256(pixels) ‖ u32le(label))",
      nullMatchProbability: { noise: 1 / classes, stamp: 1 / (classes - 1) },
    },
  };
}

/** The hash that goes on chain: SHA-256 of the certificate's canonical JSON. */
export function certificateHash(cert: Certificate): string {
  return canonicalHash(cert);
}
