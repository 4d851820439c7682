import { z } from "zod";
import type { Certificate } from "./certificate.js";
import { checkReveal, revealSchema } from "./reveal.js";
import { checkRevealV2, revealV2Schema } from "./reveal-v2.js";

/** A reveal file of either version. */
export const anyRevealSchema = z.union([revealSchema, revealV2Schema]);
export type AnyReveal = z.infer<typeof anyRevealSchema>;

export interface AnyRevealCheck {
  ok: boolean;
  checked: number;
  failures: string[];
}

/** Checks a reveal against a certificate of the same version, with no key. */
export function checkAnyReveal(reveal: AnyReveal, cert: Certificate): AnyRevealCheck {
  if (reveal.schema === "provmark/reveal/v2") {
    if (cert.schema !== "provmark/certificate/v2") {
      return { ok: false, checked: 0, failures: ["a v2 reveal (VRF proofs) needs a v2 certificate"] };
    }
    const r = checkRevealV2(reveal, cert);
    return { ok: r.ok, checked: reveal.triggers.length, failures: r.failures };
  }
  if (cert.schema !== "provmark/certificate/v1") {
    return { ok: false, checked: 0, failures: ["a v1 reveal (Merkle proofs) needs a v1 certificate"] };
  }
  return checkReveal(reveal, cert);
}
