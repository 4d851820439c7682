import { z } from "zod";
import type { MerkleProof } from "../commit/merkle.js";
import { fromHex, toHex } from "../digest/bytes.js";
import { inputSize } from "../input/model-io.js";
import { vrfKeyPair, vrfOutput, vrfProve, vrfVerify, vrfVerifyBatch } from "../keys/vrf.js";
import { type CertificateV2, triggerSetSpecOfCertificate } from "./certificate.js";
import type { WatermarkKey } from "./params.js";
import {
  familyAt,
  runOrder,
  runOrderMessage,
  stampBaseIndex,
  stampBaseProofs,
  triggerFromOutput,
  triggerMessage,
  triggerSetSpecOf,
  verifyStampBase,
} from "./trigger-derivation.js";
import type { Trigger } from "./triggers.js";
import { messageFromOutput, projectionFromOutput, weightMarkMessages } from "./weight-mark.js";

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));
const merkleProofSchema = z.object({
  index: z.number().int(),
  leafCount: z.number().int(),
  siblings: z.array(z.string()),
});

/**
 * A v2 reveal: VRF proofs from which anyone with the certificate recomputes the revealed triggers
 * (inputs and labels), the run orders, and optionally the weight mark's projection and message.
 * Nothing in it is taken on trust: labels and pixels are not even stored, only proofs and, for stamp
 * triggers, the base image with its Merkle path to the certificate's stamp-set root.
 */
export const revealV2Schema = z.object({
  schema: z.literal("provmark/reveal/v2"),
  keyCommitment: hex(32),
  triggers: z.array(
    z.object({
      index: z.number().int().min(0),
      proof: hex(48),
      base: z.object({ index: z.number().int().min(0), pixels: z.string(), proof: merkleProofSchema }).nullable(),
    }),
  ),
  runOrders: z.array(z.object({ order: z.number().int().min(0), proof: hex(48) })),
  weightMark: z.object({ projection: hex(48), message: hex(48) }).nullable(),
});
export type RevealV2 = z.infer<typeof revealV2Schema>;

export function buildRevealV2(
  key: WatermarkKey,
  cert: CertificateV2,
  triggers: readonly Trigger[],
  indices: readonly number[],
  orders: readonly number[],
  weightMark: { projection: Uint8Array; message: Uint8Array } | null,
): RevealV2 {
  const spec = triggerSetSpecOf(key);
  const { secretKey } = vrfKeyPair(key.seed);
  const bases = key.stampBases.map((b) => b.pixels);
  return {
    schema: "provmark/reveal/v2",
    keyCommitment: cert.keyCommitment,
    triggers: indices.map((i) => {
      const t = triggers[i] as Trigger;
      if (!t.proof) throw new RangeError(`trigger ${i} has no VRF proof (not a v2 trigger)`);
      let base: RevealV2["triggers"][number]["base"] = null;
      if (t.family === "stamp") {
        const j = stampBaseIndex(spec, vrfOutput(t.proof));
        base = {
          index: j,
          pixels: Buffer.from(bases[j] as Uint8Array).toString("base64"),
          proof: stampBaseProofs(bases, [j])[0] as MerkleProof,
        };
      }
      return { index: t.index, proof: toHex(t.proof), base };
    }),
    runOrders: orders.map((k) => ({ order: k, proof: toHex(vrfProve(secretKey, runOrderMessage(spec, k))) })),
    weightMark: weightMark ? { projection: toHex(weightMark.projection), message: toHex(weightMark.message) } : null,
  };
}

export interface RevealV2Check {
  ok: boolean;
  /** What was checked, one line each. */
  covered: string[];
  failures: string[];
  /** The triggers recomputed from valid proofs, by index. */
  triggers: Map<number, Trigger>;
  /** The run orders recomputed from valid proofs, by order number. */
  orders: Map<number, number[]>;
  weightMark: { projection: Float32Array; message: Uint8Array } | null;
}

/**
 * Verifies every proof of a v2 reveal against the certificate's VRF key (one batch: two pairings for
 * all of them; on failure each is checked alone to name the bad ones) and recomputes what they fix.
 */
export function checkRevealV2(reveal: RevealV2, cert: CertificateV2): RevealV2Check {
  const spec = triggerSetSpecOfCertificate(cert);
  const pk = fromHex(cert.vrf.publicKey);
  const failures: string[] = [];
  if (reveal.keyCommitment !== cert.keyCommitment) failures.push("the reveal names another key commitment");
  const seen = new Set<number>();
  const items: { what: string; message: Uint8Array; proof: Uint8Array }[] = [];
  for (const t of reveal.triggers) {
    if (t.index >= spec.count) {
      failures.push(`trigger ${t.index}: the certificate has ${spec.count} triggers`);
      continue;
    }
    if (seen.has(t.index)) failures.push(`trigger ${t.index} is revealed twice`);
    seen.add(t.index);
    items.push({ what: `trigger ${t.index}`, message: triggerMessage(spec, t.index), proof: fromHex(t.proof) });
  }
  for (const o of reveal.runOrders) {
    items.push({ what: `run order ${o.order}`, message: runOrderMessage(spec, o.order), proof: fromHex(o.proof) });
  }
  const carrier = cert.model.carrier;
  const wm = reveal.weightMark
    ? weightMarkMessages({
        layer: carrier.layer,
        carrierLength: carrier.carrierLength,
        bits: cert.weightWatermark.bits,
      })
    : null;
  if (reveal.weightMark && wm) {
    items.push({ what: "weight-mark projection", message: wm[0], proof: fromHex(reveal.weightMark.projection) });
    items.push({ what: "weight-mark message", message: wm[1], proof: fromHex(reveal.weightMark.message) });
  }
  let outputs = vrfVerifyBatch(pk, items);
  if (!outputs) {
    outputs = items.map((it) => {
      const out = vrfVerify(pk, it.message, it.proof);
      if (!out) failures.push(`${it.what}: the VRF proof does not verify under the certificate's public key`);
      return out ?? new Uint8Array(0);
    });
  }
  const triggers = new Map<number, Trigger>();
  const orders = new Map<number, number[]>();
  let weightMark: RevealV2Check["weightMark"] = null;
  let k = 0;
  for (const t of reveal.triggers) {
    if (t.index >= spec.count) continue;
    const beta = outputs[k++] as Uint8Array;
    if (beta.length === 0) continue;
    let basePixels: Uint8Array | undefined;
    if (familyAt(spec, t.index) === "stamp") {
      const want = stampBaseIndex(spec, beta);
      const px = t.base ? Uint8Array.from(Buffer.from(t.base.pixels, "base64")) : undefined;
      if (!t.base || !px) {
        failures.push(`trigger ${t.index}: a stamp trigger's base image is missing`);
        continue;
      }
      if (t.base.index !== want) {
        failures.push(`trigger ${t.index}: base ${t.base.index} given, the VRF output selects base ${want}`);
        continue;
      }
      if (px.length !== inputSize(spec.io.input) || !verifyStampBase(spec, want, px, t.base.proof)) {
        failures.push(`trigger ${t.index}: base image ${want} is not in the certificate's stamp set`);
        continue;
      }
      basePixels = px;
    }
    triggers.set(t.index, { ...triggerFromOutput(spec, t.index, beta, basePixels), proof: fromHex(t.proof) });
  }
  for (const o of reveal.runOrders) {
    const beta = outputs[k++] as Uint8Array;
    if (beta.length) orders.set(o.order, runOrder(spec, beta));
  }
  if (reveal.weightMark) {
    const px = outputs[k++] as Uint8Array;
    const pm = outputs[k++] as Uint8Array;
    if (px.length && pm.length) {
      weightMark = {
        projection: projectionFromOutput(px, cert.weightWatermark.bits, carrier.carrierLength),
        message: messageFromOutput(pm, cert.weightWatermark.bits),
      };
    }
  }
  const covered = [
    `${reveal.triggers.length} trigger proof(s), ${reveal.runOrders.length} run order proof(s)${reveal.weightMark ? ", the weight mark's two proofs" : ""} verified under the certificate's VRF key`,
  ];
  return { ok: failures.length === 0, covered, failures, triggers, orders, weightMark };
}
