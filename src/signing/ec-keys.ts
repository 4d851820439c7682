import { createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fromFsError, ProvmarkError } from "../errors.js";

/** The curves model-signing accepts, each with the hash its signatures use. */
const CURVE_HASH: Record<string, "sha256" | "sha384" | "sha512"> = {
  prime256v1: "sha256",
  secp384r1: "sha384",
  secp521r1: "sha512",
};

export const CURVE_NAMES: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };

export async function readPem(path: string, what: string): Promise<string> {
  const text = await readFile(path, "utf8").catch((e: unknown) => {
    throw fromFsError(e, path);
  });
  if (!text.includes("-----BEGIN ")) {
    throw new ProvmarkError("SIGNATURE_KEY_INVALID", `${path} is not a PEM file (${what})`, {
      subject: path,
      hints: ["Pass a PEM file (-----BEGIN ...-----); convert DER with `openssl pkey -inform der`."],
    });
  }
  return text;
}

/** The hash ECDSA signatures with this key use (SHA-256/384/512 for P-256/384/521); refuses other keys. */
export function ecHash(key: KeyObject, shown: string): "sha256" | "sha384" | "sha512" {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const hash = key.asymmetricKeyType === "ec" && curve !== undefined ? CURVE_HASH[curve] : undefined;
  if (hash === undefined) {
    throw new ProvmarkError(
      "SIGNATURE_KEY_INVALID",
      `${shown} is a ${key.asymmetricKeyType === "ec" ? `${curve} EC` : (key.asymmetricKeyType ?? "unknown")} key, not ECDSA P-256, P-384 or P-521`,
      {
        subject: shown,
        hints: ["Make one with `openssl ecparam -name secp384r1 -genkey | openssl pkcs8 -topk8 -nocrypt`."],
      },
    );
  }
  return hash;
}

/**
 * Loads a PEM private key; an encrypted one is opened with the passphrase `passphrase()` gives
 * (asked only when needed). Never echoes the key or the passphrase.
 */
export async function loadPrivateKey(path: string, passphrase: () => Promise<string>): Promise<KeyObject> {
  const pem = await readPem(path, "a private key");
  // PKCS#8 encryption, or the legacy OpenSSL header on a SEC1 key
  const needsPass = pem.includes("ENCRYPTED PRIVATE KEY") || pem.includes("Proc-Type: 4,ENCRYPTED");
  let key: KeyObject;
  try {
    key = needsPass ? createPrivateKey({ key: pem, passphrase: await passphrase() }) : createPrivateKey(pem);
  } catch (e) {
    if (e instanceof ProvmarkError) throw e;
    throw new ProvmarkError(
      "SIGNATURE_KEY_INVALID",
      needsPass ? `${path} could not be decrypted: wrong passphrase?` : `${path} is not a readable private key`,
      {
        subject: path,
        cause: e,
        hints: ["Pass the PEM private key (PKCS#8 or SEC1) that matches the signing certificate."],
      },
    );
  }
  ecHash(key, path);
  return key;
}

/** Loads a PEM public key (SubjectPublicKeyInfo; text before the PEM block, as certtool writes, is fine). */
export async function loadPublicKey(path: string): Promise<KeyObject> {
  const pem = await readPem(path, "a public key");
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (e) {
    throw new ProvmarkError("SIGNATURE_KEY_INVALID", `${path} is not a readable public key`, {
      subject: path,
      cause: e,
      hints: ["Pass the signer's PEM public key (openssl pkey -pubout)."],
    });
  }
  ecHash(key, path);
  return key;
}

/**
 * model-signing's key hint: SHA-256 (hex) of the key's PEM SubjectPublicKeyInfo, as Python's
 * cryptography writes it (64-column base64, final newline), which node's PEM export matches.
 */
export function keyHint(key: KeyObject): string {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  const pem = pub.export({ type: "spki", format: "pem" });
  return createHash("sha256").update(pem).digest("hex");
}
