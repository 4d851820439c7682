import { z } from "zod";
import { type MerkleProof, merkleProofs, triggerLeaf, verifyMerkleProof } from "../commit/merkle.js";
import type { CertificateV1 } from "./certificate.js";
import { type Trigger, triggerPixels } from "./triggers.js";

/** A v1 partial reveal for a dispute: some triggers with Merkle proofs against the certificate's root. */
export const revealSchema = z.object({
  schema: z.literal("provmark/reveal/v1"),
  keyCommitment: z.string(),
  merkleRoot: z.string(),
  leafCount: z.number().int().min(1),
  triggers: z.array(
    z.object({
      index: z.number().int().min(0),
      family: z.enum(["noise", "stamp"]),
      label: z.number().int().min(0),
      /** Pixels (H×W×C, uint8), base64. */
      pixels: z.string(),
      proof: z.object({ index: z.number().int(), leafCount: z.number().int(), siblings: z.array(z.string()) }),
    }),
  ),
});
export type Reveal = z.infer<typeof revealSchema>;

export function buildReveal(cert: CertificateV1, triggers: readonly Trigger[], indices: readonly number[]): Reveal {
  const leaves = triggers.map((t) => triggerLeaf(t.index, triggerPixels(t), t.label));
  const proofs = merkleProofs(leaves, indices);
  return {
    schema: "provmark/reveal/v1",
    keyCommitment: cert.keyCommitment,
    merkleRoot: cert.triggerSet.merkleRoot,
    leafCount: triggers.length,
    triggers: indices.map((i, k) => {
      const t = triggers[i] as Trigger;
      return {
        index: t.index,
        family: t.family,
        label: t.label,
        pixels: Buffer.from(triggerPixels(t)).toString("base64"),
        proof: proofs[k] as MerkleProof,
      };
    }),
  };
}

export interface RevealCheck {
  ok: boolean;
  checked: number;
  /** One line per trigger that does not match the certificate. */
  failures: string[];
}

/** Checks every revealed trigger against a certificate, with no key: root, count, shape, label range, proof. */
export function checkReveal(reveal: Reveal, cert: CertificateV1): RevealCheck {
  const failures: string[] = [];
  const root = Uint8Array.from(Buffer.from(cert.triggerSet.merkleRoot, "hex"));
  if (reveal.merkleRoot !== cert.triggerSet.merkleRoot) failures.push("the reveal names another Merkle root");
  if (reveal.keyCommitment !== cert.keyCommitment) failures.push("the reveal names another key commitment");
  const [h, w, c] = cert.input.shape;
  for (const t of reveal.triggers) {
    const pixels = Uint8Array.from(Buffer.from(t.pixels, "base64"));
    const why =
      t.proof.leafCount !== cert.triggerSet.count
        ? `proof claims ${t.proof.leafCount} leaves, the certificate has ${cert.triggerSet.count}`
        : t.proof.index !== t.index
          ? "proof index differs from the trigger index"
          : pixels.length !== h * w * c
            ? `holds ${pixels.length} pixels, the certificate's input has ${h * w * c}`
            : t.label >= cert.input.classes
              ? `label ${t.label} is not one of the ${cert.input.classes} classes`
              : !verifyMerkleProof(root, triggerLeaf(t.index, pixels, t.label), t.proof)
                ? "Merkle proof does not lead to the certificate's root"
                : undefined;
    if (why !== undefined) failures.push(`trigger ${t.index}: ${why}`);
  }
  return { ok: failures.length === 0, checked: reveal.triggers.length, failures };
}
