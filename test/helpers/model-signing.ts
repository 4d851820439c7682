import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Vendored model-signing fixtures (test/fixtures/model-signing/README.md). */
export const MS_FIXTURES = fileURLToPath(new URL("../fixtures/model-signing/", import.meta.url));
/** The reference's test keys: a P-384 signer, its certificate, intermediate and root. */
export const MS_KEYS = join(MS_FIXTURES, "keys/certificate");
/** provmark's own test PKI (P-256 root, P-384 intermediate, P-521 code-signing leaf). */
export const PKI = join(MS_FIXTURES, "provmark-pki");
