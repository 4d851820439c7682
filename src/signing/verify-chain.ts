import { type KeyObject, X509Certificate } from "node:crypto";
import { certExtensions, OID } from "../core/model-signing/index.js";
import { ProvmarkError } from "../errors.js";
import { ecHash } from "./ec-keys.js";

export interface VerifiedChain {
  /** The signing certificate's public key, checked to be ECDSA P-256/P-384/P-521. */
  key: KeyObject;
  /** Subjects from the signing certificate up to the trusted root. */
  path: string[];
  /** When the chain was checked to be valid: the signing certificate's notBefore, as the reference does. */
  checkedAt: Date;
}

// Extensions whose meaning these checks (or ignoring them) cover; any other critical one is refused.
const UNDERSTOOD = new Set<string>([OID.keyUsage, OID.basicConstraints, OID.extKeyUsage, "2.5.29.17", "2.5.29.32"]);
const MAX_DEPTH = 8;

const untrusted = (message: string, hints: string[] = []) =>
  new ProvmarkError("SIGNATURE_CHAIN_UNTRUSTED", message, { subject: "model.sig", hints });

/**
 * Verifies a bundle's certificate chain as model_signing's certificate verifier (OpenSSL's
 * X509_verify_cert) does: from the signing certificate through the bundle's (or the trusted file's)
 * intermediates to a self-signed certificate among `trusted`, each issuer a CA allowed to sign
 * certificates within its path length, every certificate valid at the signing certificate's
 * notBefore (model-signing bundles carry no timestamp), and the signing certificate allowed to sign:
 * KeyUsage digitalSignature or, failing that, the code-signing extended key usage.
 */
export function verifyCertificateChain(
  bundleDer: readonly Uint8Array[],
  trusted: readonly X509Certificate[],
): VerifiedChain {
  const certs = bundleDer.map((der, i) => {
    try {
      return new X509Certificate(der);
    } catch (e) {
      throw new ProvmarkError("SIGNATURE_BUNDLE_INVALID", `certificate ${i} in model.sig is not DER X.509`, {
        subject: "model.sig",
        cause: e,
      });
    }
  });
  const [leaf, ...intermediates] = certs;
  if (leaf === undefined) throw untrusted("model.sig holds no certificate");
  if (trusted.length === 0)
    throw untrusted("no trusted certificate was given", ["Pass the root CA with --certificate-chain."]);
  const at = leaf.validFromDate;
  const trustedFp = new Set(trusted.map((c) => c.fingerprint256));
  const pool = [...intermediates, ...trusted];

  const ext = (c: X509Certificate) => certExtensions(new Uint8Array(c.raw));
  const selfSigned = (c: X509Certificate) => c.checkIssued(c) && c.verify(c.publicKey);
  const validAt = (c: X509Certificate) => c.validFromDate <= at && at <= c.validToDate;
  const problems: string[] = [];

  // `below`: non-self-issued intermediates under `cert`'s issuer, what its pathLen limits
  const search = (cert: X509Certificate, path: X509Certificate[], below: number): X509Certificate[] | undefined => {
    const critical = ext(cert).critical.filter((o) => !UNDERSTOOD.has(o));
    if (critical.length > 0) {
      problems.push(`${cert.subject}: unsupported critical extension ${critical.join(", ")}`);
      return undefined;
    }
    if (!validAt(cert)) {
      problems.push(`${cert.subject}: not valid at ${at.toISOString()} (${cert.validFrom} to ${cert.validTo})`);
      return undefined;
    }
    if (trustedFp.has(cert.fingerprint256) && selfSigned(cert)) return path;
    if (path.length > MAX_DEPTH) return undefined;
    for (const issuer of pool) {
      if (path.some((p) => p.fingerprint256 === issuer.fingerprint256) || !cert.checkIssued(issuer)) continue;
      if (!cert.verify(issuer.publicKey)) {
        problems.push(`${cert.subject}: not signed by the key of ${issuer.subject}`);
        continue;
      }
      const ie = ext(issuer);
      if (!issuer.ca || ie.basicConstraints?.ca !== true) {
        problems.push(`${issuer.subject}: not a CA`);
        continue;
      }
      if (ie.keyUsage !== undefined && !ie.keyUsage.keyCertSign) {
        problems.push(`${issuer.subject}: KeyUsage lacks keyCertSign`);
        continue;
      }
      const pathLen = ie.basicConstraints.pathLen;
      if (pathLen !== undefined && below > pathLen) {
        problems.push(`${issuer.subject}: path length ${pathLen} exceeded`);
        continue;
      }
      const found = search(issuer, [...path, issuer], below + (selfIssued(issuer) ? 0 : 1));
      if (found !== undefined) return found;
    }
    return undefined;
  };
  const path = search(leaf, [leaf], 0);
  if (path === undefined) {
    throw untrusted(
      `the signing certificate (${leaf.subject.replace(/\n/g, ", ")}) does not chain to a trusted root${problems.length ? `: ${[...new Set(problems)].join("; ")}` : ""}`,
      ["Pass the self-signed root CA that issued the signer's chain with --certificate-chain (repeatable)."],
    );
  }

  const le = ext(leaf);
  const canSign = le.keyUsage?.digitalSignature === true || le.extKeyUsage?.includes(OID.codeSigning) === true;
  if (!canSign) {
    throw untrusted(
      `the signing certificate (${leaf.subject}) may not sign: no digitalSignature key usage, no code-signing EKU`,
      ["Issue the signer a certificate with keyUsage=digitalSignature or extendedKeyUsage=codeSigning."],
    );
  }
  ecHash(leaf.publicKey, "the signing certificate's key");
  return { key: leaf.publicKey, path: path.map((c) => c.subject.replace(/\n/g, ", ")), checkedAt: at };
}

function selfIssued(c: X509Certificate): boolean {
  return c.subject === c.issuer;
}

/** Every certificate in PEM text (a chain file may hold several). */
export function parsePemCertificates(pem: string, shown: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw new ProvmarkError("SIGNATURE_KEY_INVALID", `${shown} holds no PEM certificate`, {
      subject: shown,
      hints: ["Pass PEM certificates (-----BEGIN CERTIFICATE-----)."],
    });
  }
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new ProvmarkError("SIGNATURE_KEY_INVALID", `${shown} holds a certificate that cannot be read`, {
        subject: shown,
        cause: e,
      });
    }
  });
}
