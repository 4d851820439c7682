import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb } from "node:crypto";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { z } from "zod";
import { keyCommitment } from "../core/keys/derive.js";
import {
  imageShape,
  paramsFromV1,
  type WatermarkKey,
  type WatermarkParams,
  type WatermarkParamsV1,
  watermarkParamsSchema,
  watermarkParamsV1Schema,
} from "../core/watermark/params.js";

function paramsToV1(p: WatermarkParams): WatermarkParamsV1 {
  const { layer, bits, triggers, family, stampStrength } = p;
  return { classes: p.io.classes.count, inputShape: imageShape(p.io), layer, bits, triggers, family, stampStrength };
}

import { fromFsError, ProvmarkError } from "../errors.js";
import { assertOutputFree, writeFileAtomic } from "../model/atomic-write.js";

const scrypt = promisify(scryptCb) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/**
 * scrypt cost of new files: ethers' keystore level (N = 2^17, r = 8: 128 MiB and about 0.4 s per
 * try), which makes guessing a passphrase expensive. Files written with 2^15 stay readable.
 */
const KDF = { name: "scrypt" as const, N: 2 ** 17, r: 8, p: 1 };

/** Strict base64 of exactly `bytes` bytes: a truncated GCM tag would weaken the authentication. */
const base64Of = (bytes: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, "not base64")
    .refine((s) => Buffer.from(s, "base64").length === bytes, `must decode to ${bytes} bytes`);

const headerSchema = z.object({
  format: z.literal("provmark-key"),
  /** 1: v1 parameters (MNIST-era); 2: the input model and the VRF derivation. */
  version: z.union([z.literal(1), z.literal(2)]),
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
  kdf: z.object({
    name: z.literal("scrypt"),
    N: z
      .number()
      .int()
      .min(2 ** 10)
      .max(2 ** 22),
    r: z.number().int().min(1).max(32),
    p: z.number().int().min(1).max(16),
    salt: base64Of(16),
  }),
});
const fileSchema = headerSchema.extend({
  cipher: z.object({ name: z.literal("aes-256-gcm"), iv: base64Of(12), tag: base64Of(16) }),
  ciphertext: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, "not base64"),
});
const secretV1Schema = z.object({
  seed: z.string().regex(/^[0-9a-f]{64}$/),
  params: watermarkParamsV1Schema,
  stampBases: z.array(z.object({ label: z.number().int().min(0), pixels: z.string() })),
});
const secretV2Schema = z.object({
  seed: z.string().regex(/^[0-9a-f]{64}$/),
  params: watermarkParamsSchema,
  stampBases: z.array(z.object({ pixels: z.string() })),
});

/** The public id of a key: the first 16 hex digits of its commitment. */
export function keyId(key: WatermarkKey): string {
  return Buffer.from(keyCommitment(key.seed)).toString("hex").slice(0, 16);
}

async function deriveKey(passphrase: string, kdf: z.infer<typeof headerSchema>["kdf"]): Promise<Buffer> {
  return scrypt(passphrase.normalize("NFC"), Buffer.from(kdf.salt, "base64"), 32, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem: 256 * kdf.N * kdf.r,
  });
}

/**
 * Encrypts a key with a passphrase (scrypt, AES-256-GCM; the header is bound as additional data so
 * it cannot be altered) and writes it atomically with mode 0600. Refuses to replace a file unless
 * `overwrite`: losing a watermark key loses the ability to prove ownership.
 */
export async function writeKeyFile(
  path: string,
  key: WatermarkKey,
  passphrase: string,
  overwrite = false,
): Promise<void> {
  await assertOutputFree(
    path,
    overwrite,
    "Refusing to replace a key file. Choose another --out, or pass --force if you really mean it.",
  );
  const v1 = key.params.derivation === "hkdf/v1";
  const header = {
    format: "provmark-key" as const,
    version: v1 ? (1 as const) : (2 as const),
    keyId: keyId(key),
    kdf: { ...KDF, salt: randomBytes(16).toString("base64") },
  };
  // A v1 key (made by an older provmark, rewritten e.g. by `keygen --force` tests) keeps its v1 form.
  const secret = JSON.stringify({
    seed: Buffer.from(key.seed).toString("hex"),
    params: v1 ? paramsToV1(key.params) : key.params,
    stampBases: key.stampBases.map((b) => ({
      ...(v1 ? { label: b.label ?? 0 } : {}),
      pixels: Buffer.from(b.pixels).toString("base64"),
    })),
  });
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", await deriveKey(passphrase, header.kdf), iv);
  cipher.setAAD(Buffer.from(JSON.stringify(header)));
  const ciphertext = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
  const file = {
    ...header,
    cipher: { name: "aes-256-gcm", iv: iv.toString("base64"), tag: cipher.getAuthTag().toString("base64") },
    ciphertext: ciphertext.toString("base64"),
  };
  await writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, 0o600);
}

/** Reads and decrypts a key file; a wrong passphrase or any alteration is KEY_DECRYPT_FAILED. */
export async function readKeyFile(path: string, passphrase: string): Promise<WatermarkKey> {
  const text = await readFile(path, "utf8").catch((e: unknown) => {
    throw fromFsError(e, path);
  });
  const invalid = (why: string) =>
    new ProvmarkError("KEY_FILE_INVALID", `${path} is not a valid provmark key file: ${why}`, {
      subject: path,
      hints: ["Use the file written by `provmark keygen`; restore it from your backup if it was damaged."],
    });
  let parsed: z.infer<typeof fileSchema>;
  try {
    const r = fileSchema.safeParse(JSON.parse(text));
    if (!r.success) throw invalid(r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
    parsed = r.data;
  } catch (e) {
    if (e instanceof ProvmarkError) throw e;
    throw invalid((e as Error).message);
  }
  const { cipher, ciphertext, ...header } = parsed;
  let plain: string;
  try {
    const d = createDecipheriv(
      "aes-256-gcm",
      await deriveKey(passphrase, header.kdf),
      Buffer.from(cipher.iv, "base64"),
    );
    d.setAAD(Buffer.from(JSON.stringify(header)));
    d.setAuthTag(Buffer.from(cipher.tag, "base64"));
    plain = Buffer.concat([d.update(Buffer.from(ciphertext, "base64")), d.final()]).toString("utf8");
  } catch (e) {
    throw new ProvmarkError("KEY_DECRYPT_FAILED", `cannot decrypt ${path}: wrong passphrase, or the file was altered`, {
      subject: path,
      cause: e,
      hints: ["Check PROVMARK_PASSPHRASE (or what you typed at the prompt)."],
    });
  }
  const key = parseSecret(header.version, plain, invalid);
  if (keyId(key) !== header.keyId) throw invalid("the key id does not match the key");
  return key;
}

function parseSecret(version: 1 | 2, plain: string, invalid: (why: string) => ProvmarkError): WatermarkKey {
  let json: unknown;
  try {
    json = JSON.parse(plain);
  } catch {
    throw invalid("the decrypted contents are not JSON");
  }
  const pixels = (b64: string) => new Uint8Array(Buffer.from(b64, "base64"));
  if (version === 1) {
    const s = secretV1Schema.safeParse(json);
    if (!s.success) throw invalid("the decrypted contents do not match the v1 key schema");
    return {
      seed: new Uint8Array(Buffer.from(s.data.seed, "hex")),
      params: paramsFromV1(s.data.params),
      stampBases: s.data.stampBases.map((b) => ({ label: b.label, pixels: pixels(b.pixels) })),
    };
  }
  const s = secretV2Schema.safeParse(json);
  if (!s.success) {
    throw invalid(`the decrypted contents do not match the v2 key schema (${s.error.issues[0]?.message ?? ""})`);
  }
  return {
    seed: new Uint8Array(Buffer.from(s.data.seed, "hex")),
    params: s.data.params,
    stampBases: s.data.stampBases.map((b) => ({ pixels: pixels(b.pixels) })),
  };
}
