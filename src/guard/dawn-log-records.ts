import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import { canonicalJson } from "../core/canonical-json.js";
import { u64le } from "../core/digest/bytes.js";
import { modelIOSchema } from "../core/input/model-io.js";

/**
 * The DAWN log's on-disk lines. Line 1 is the header in the clear (model, rate, key commitment: a
 * wrong key file is named before anything is decrypted), authenticated by an AES-GCM tag over its
 * canonical JSON; every later line is one record sealed with AES-256-GCM, whose additional data binds
 * the header and the record's sequence number, so a record edited, moved, copied from another log or
 * cut out of the middle fails to open.
 */

export const DAWN_LOG_SCHEMA = "provmark/dawn-log/v1";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);

export const dawnHeaderSchema = z.object({
  schema: z.literal(DAWN_LOG_SCHEMA),
  createdAt: z.string(),
  modelIO: modelIOSchema,
  /** The keyed fraction of each client's queries the guard answers with an altered label. */
  rate: z.number().gt(0).lte(1),
  /** keyCommitment(seed) of the owner's key file, hex. */
  keyCommitment: hex64,
});
export type DawnLogHeader = z.infer<typeof dawnHeaderSchema>;

const headerLineSchema = z.object({ header: dawnHeaderSchema, iv: b64, tag: b64 }).strict();
const recordLineSchema = z.object({ seq: z.number().int().min(0), iv: b64, ct: b64 }).strict();

/** A record's plaintext (the Float32 input as little-endian bytes, base64). */
export const dawnPlainSchema = z
  .object({
    seq: z.number().int().min(0),
    client: z.string().min(1).max(256),
    time: z.string(),
    shape: z.array(z.number().int().min(1)).min(1),
    input: b64,
    inputSha256: hex64,
    servedLabel: z.number().int().min(0),
    modelLabel: z.number().int().min(0),
    classes: z.number().int().min(2),
  })
  .strict();
export type DawnPlain = z.infer<typeof dawnPlainSchema>;

const IV_BYTES = 12;
const TAG_BYTES = 16;

function gcm(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, plain: Uint8Array) {
  const c = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return { ct, tag: c.getAuthTag() };
}

function ungcm(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, ct: Uint8Array, tag: Uint8Array): Buffer | null {
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return null;
  try {
    const d = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
    d.setAAD(aad);
    d.setAuthTag(tag);
    return Buffer.concat([d.update(ct), d.final()]);
  } catch {
    return null;
  }
}

const headerAad = (h: DawnLogHeader) => Buffer.from(`${DAWN_LOG_SCHEMA}/header\0${canonicalJson(h)}`, "utf8");

/** SHA-256 of the header's canonical JSON: what every record's additional data binds. */
export function headerDigest(h: DawnLogHeader): Buffer {
  return createHash("sha256").update(headerAad(h)).digest();
}

const recordAad = (headerSha: Uint8Array, seq: number) =>
  Buffer.concat([Buffer.from(`${DAWN_LOG_SCHEMA}/record\0`, "utf8"), headerSha, u64le(seq)]);

export function sealHeader(key: Uint8Array, header: DawnLogHeader): string {
  const iv = randomBytes(IV_BYTES);
  const { tag } = gcm(key, iv, headerAad(header), new Uint8Array(0));
  return `${JSON.stringify({ header, iv: iv.toString("base64"), tag: tag.toString("base64") })}\n`;
}

/** The header line parsed (not yet authenticated: the caller checks the key commitment first). */
export function parseHeaderLine(line: string): { header: DawnLogHeader; iv: Buffer; tag: Buffer } | null {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return null;
  }
  const p = headerLineSchema.safeParse(json);
  if (!p.success) return null;
  return { header: p.data.header, iv: Buffer.from(p.data.iv, "base64"), tag: Buffer.from(p.data.tag, "base64") };
}

export function headerAuthentic(key: Uint8Array, h: { header: DawnLogHeader; iv: Buffer; tag: Buffer }): boolean {
  return ungcm(key, h.iv, headerAad(h.header), new Uint8Array(0), h.tag) !== null;
}

export function sealRecord(key: Uint8Array, headerSha: Uint8Array, plain: DawnPlain): string {
  const iv = randomBytes(IV_BYTES);
  const { ct, tag } = gcm(key, iv, recordAad(headerSha, plain.seq), Buffer.from(JSON.stringify(plain), "utf8"));
  return `${JSON.stringify({ seq: plain.seq, iv: iv.toString("base64"), ct: Buffer.concat([ct, tag]).toString("base64") })}\n`;
}

/** One record line opened: "invalid" when it is not a record line, "decrypt" when its tag fails. */
export function openRecord(
  key: Uint8Array,
  headerSha: Uint8Array,
  line: string,
  seq: number,
): { ok: true; plain: DawnPlain } | { ok: false; why: "invalid" | "decrypt"; detail: string } {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { ok: false, why: "invalid", detail: "not JSON" };
  }
  const p = recordLineSchema.safeParse(json);
  if (!p.success) return { ok: false, why: "invalid", detail: "not a record line" };
  if (p.data.seq !== seq)
    return { ok: false, why: "invalid", detail: `sequence number ${p.data.seq}, expected ${seq}` };
  const all = Buffer.from(p.data.ct, "base64");
  if (all.length < TAG_BYTES) return { ok: false, why: "invalid", detail: "ciphertext too short" };
  const plain = ungcm(
    key,
    Buffer.from(p.data.iv, "base64"),
    recordAad(headerSha, seq),
    all.subarray(0, all.length - TAG_BYTES),
    all.subarray(all.length - TAG_BYTES),
  );
  if (plain === null) return { ok: false, why: "decrypt", detail: "authentication tag does not verify" };
  let body: unknown;
  try {
    body = JSON.parse(plain.toString("utf8"));
  } catch {
    return { ok: false, why: "invalid", detail: "decrypted body is not JSON" };
  }
  const r = dawnPlainSchema.safeParse(body);
  if (!r.success || r.data.seq !== seq) return { ok: false, why: "invalid", detail: "decrypted body is not a record" };
  return { ok: true, plain: r.data };
}
