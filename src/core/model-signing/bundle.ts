import { z } from "zod";
import { ProvmarkError } from "../../errors.js";
import { PAYLOAD_TYPE } from "./statement.js";

/** The one Sigstore bundle media type model-signing 1.x writes and accepts for key and certificate signing. */
export const BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json";

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, "base64");

// Older (1.0.x) key bundles carry the key itself (rawBytes, keyDetails) instead of a hint; the
// reference ignores both, and so do we: the key that counts is the one the verifier was given.
const publicKeyMaterial = z.object({
  hint: z.string().nullish(),
  rawBytes: base64.optional(),
  keyDetails: z.string().optional(),
});

export const bundleSchema = z.object({
  mediaType: z.literal(BUNDLE_MEDIA_TYPE),
  verificationMaterial: z
    .object({
      publicKey: publicKeyMaterial.optional(),
      x509CertificateChain: z.object({ certificates: z.array(z.object({ rawBytes: base64 })).min(1) }).optional(),
      tlogEntries: z.array(z.unknown()).optional(),
    })
    .refine((m) => (m.publicKey === undefined) !== (m.x509CertificateChain === undefined), {
      message: "exactly one of publicKey and x509CertificateChain",
    }),
  dsseEnvelope: z.object({
    payload: base64,
    payloadType: z.string(),
    signatures: z.array(z.object({ sig: base64.min(1), keyid: z.string().nullish() })).length(1),
  }),
});
export type SignatureBundle = z.infer<typeof bundleSchema>;

/** Parses a model.sig; every invalid field is reported at once. */
export function parseBundle(text: string, shown: string): SignatureBundle {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ProvmarkError("SIGNATURE_BUNDLE_INVALID", `${shown} is not JSON`, { subject: shown, cause: e });
  }
  const r = bundleSchema.safeParse(json);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new ProvmarkError(
      "SIGNATURE_BUNDLE_INVALID",
      `${shown} is not a model-signing bundle: ${issues.join("; ")}`,
      {
        subject: shown,
        hints: [
          `Expected a Sigstore bundle (${BUNDLE_MEDIA_TYPE}) with one DSSE signature, as model_signing 1.x writes.`,
        ],
      },
    );
  }
  return r.data;
}

export type VerificationMaterial = { kind: "key"; hint: string } | { kind: "certificates"; der: readonly Uint8Array[] };

/**
 * A bundle as model_signing 1.1+ writes it: compact JSON in its field order, the payload and the DER
 * signature base64, an empty `keyid`, no transparency log entries.
 */
export function buildBundle(payload: Uint8Array, signature: Uint8Array, material: VerificationMaterial): string {
  const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
  const verificationMaterial =
    material.kind === "key"
      ? { publicKey: { hint: material.hint }, tlogEntries: [] }
      : { x509CertificateChain: { certificates: material.der.map((d) => ({ rawBytes: b64(d) })) }, tlogEntries: [] };
  return JSON.stringify({
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial,
    dsseEnvelope: {
      payload: b64(payload),
      payloadType: PAYLOAD_TYPE,
      signatures: [{ sig: b64(signature), keyid: "" }],
    },
  });
}
