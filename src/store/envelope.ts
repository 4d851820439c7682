import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import { ProvmarkError } from "../errors.js";
import { ByteQueue } from "./byte-queue.js";
import type { ByteSource } from "./byte-streams.js";

/**
 * An AES-256-GCM envelope for private artifacts (weights), so they reach IPFS only as ciphertext.
 *
 * Layout: `PMENV1\n` ‖ u16be(n) ‖ n bytes of JSON header ‖ segment 0 ‖ segment 1 ‖ …
 *
 * It is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015): the plaintext is cut into
 * segments of `segmentSize` bytes, each sealed on its own with nonce prefix(7) ‖ u32be(i) ‖ last(1),
 * so memory stays bounded and any segment can be checked as it arrives. The index in the nonce makes
 * reordering fail, the last flag makes truncation and extension fail, and the header bytes (magic,
 * length and JSON) are every segment's additional data, so a header edit fails too. See docs/store.md.
 */

const MAGIC = Buffer.from("PMENV1\n", "latin1");
const SEGMENT_SIZE = 65_536;
const TAG_BYTES = 16;
const PREFIX_BYTES = 7;
const MAX_HEADER_BYTES = 1024;
const KEY_ID_LABEL = "provmark/envelope-key-id/v1";

const headerSchema = z.strictObject({
  version: z.literal(1),
  alg: z.literal("AES-256-GCM"),
  // other sizes are read so the format can change its default; the bound keeps buffers bounded
  segmentSize: z
    .number()
    .int()
    .min(1024)
    .max(1 << 24),
  noncePrefix: z.string().regex(/^[0-9a-f]{14}$/),
  keyId: z.string().regex(/^[0-9a-f]{32}$/),
});
type EnvelopeHeader = z.infer<typeof headerSchema>;
/** The parsed header and its exact bytes, which are every segment's additional data. */
interface Head {
  header: EnvelopeHeader;
  bytes: Uint8Array;
}

function assertKey(key: Uint8Array): Buffer {
  if (!(key instanceof Uint8Array) || key.byteLength !== 32) {
    const got = key instanceof Uint8Array ? `${key.byteLength} bytes` : typeof key;
    throw new ProvmarkError("USAGE", `an envelope key must be 32 bytes (AES-256), got ${got}`, {
      hints: ["Derive the envelope key from the release key; never use a passphrase's bytes directly."],
    });
  }
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength);
}

/**
 * The public id of an envelope key (32 hex digits): recorded in the header so a wrong key is named as
 * such before any decryption, and safe to print or put in a manifest.
 */
export function envelopeKeyId(key: Uint8Array): string {
  const k = assertKey(key);
  return createHash("sha256").update(KEY_ID_LABEL).update(k).digest().subarray(0, 16).toString("hex");
}

/** Whether `bytes` starts like an envelope (the magic only: nothing is verified). */
export function isEnvelope(bytes: Uint8Array): boolean {
  return bytes.byteLength >= MAGIC.byteLength && MAGIC.equals(bytes.subarray(0, MAGIC.byteLength));
}

function nonce(prefix: Buffer, index: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0);
  n.writeUInt32BE(index, PREFIX_BYTES);
  n[11] = last ? 1 : 0;
  return n;
}

/** The segment's plaintext, or undefined when its tag does not verify under these parameters. */
function openSegment(
  key: Buffer,
  head: Head,
  index: number,
  last: boolean,
  sealed: Uint8Array,
): Uint8Array | undefined {
  const prefix = Buffer.from(head.header.noncePrefix, "hex");
  const decipher = createDecipheriv("aes-256-gcm", key, nonce(prefix, index, last), { authTagLength: TAG_BYTES });
  decipher.setAAD(head.bytes);
  decipher.setAuthTag(sealed.subarray(sealed.byteLength - TAG_BYTES));
  const plain = decipher.update(sealed.subarray(0, sealed.byteLength - TAG_BYTES));
  try {
    return Buffer.concat([plain, decipher.final()]);
  } catch {
    return undefined;
  }
}

function encodeHeader(header: EnvelopeHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const len = Buffer.alloc(2);
  len.writeUInt16BE(json.byteLength);
  return Buffer.concat([MAGIC, len, json]);
}

/**
 * Seals a stream: yields the header, then one sealed segment per `segmentSize` bytes of plaintext.
 * The last segment is held back until the source ends, since only then is it known to be last.
 *
 * @example for await (const piece of sealStream(key, createReadStream("weights.bin"))) upload(piece)
 */
export function sealStream(key: Uint8Array, source: ByteSource): AsyncIterable<Uint8Array> {
  const k = assertKey(key);
  const prefix = randomBytes(PREFIX_BYTES);
  const header = encodeHeader({
    version: 1,
    alg: "AES-256-GCM",
    segmentSize: SEGMENT_SIZE,
    noncePrefix: prefix.toString("hex"),
    keyId: envelopeKeyId(k),
  });
  const seal = (index: number, last: boolean, plain: Uint8Array): Uint8Array => {
    if (index > 0xffff_ffff) {
      throw new ProvmarkError("USAGE", `too large to seal: more than 2^32 segments of ${SEGMENT_SIZE} bytes`);
    }
    const cipher = createCipheriv("aes-256-gcm", k, nonce(prefix, index, last), { authTagLength: TAG_BYTES });
    cipher.setAAD(header);
    return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  };
  return (async function* () {
    yield header;
    const queue = new ByteQueue();
    let index = 0;
    for await (const chunk of source) {
      queue.push(chunk);
      // strictly more than a segment: the bytes past it prove this segment is not the last
      while (queue.length > SEGMENT_SIZE) yield seal(index++, false, queue.take(SEGMENT_SIZE));
    }
    // non-empty unless the whole plaintext is: an empty last segment never follows a full one
    yield seal(index, true, queue.take(queue.length));
  })();
}

function invalid(message: string, cause?: unknown): ProvmarkError {
  return new ProvmarkError("ENVELOPE_INVALID", message, {
    ...(cause === undefined ? {} : { cause }),
    hints: ["The artifact is damaged or is not a provmark envelope; fetch it again by its CID."],
  });
}

/** Reads and checks the header once enough bytes are queued; undefined while more are needed. */
function readHeader(queue: ByteQueue, keyId: string): Head | undefined {
  const seen = queue.peek(Math.min(queue.length, MAGIC.byteLength));
  if (!MAGIC.subarray(0, seen.byteLength).equals(seen)) {
    throw invalid("not a provmark envelope: it does not start with PMENV1");
  }
  if (queue.length < MAGIC.byteLength + 2) return undefined;
  const len = Buffer.from(queue.peek(MAGIC.byteLength + 2)).readUInt16BE(MAGIC.byteLength);
  if (len > MAX_HEADER_BYTES) throw invalid(`envelope header claims ${len} bytes (at most ${MAX_HEADER_BYTES})`);
  if (queue.length < MAGIC.byteLength + 2 + len) return undefined;
  const bytes = queue.take(MAGIC.byteLength + 2 + len);
  let header: EnvelopeHeader;
  try {
    header = headerSchema.parse(JSON.parse(Buffer.from(bytes.subarray(MAGIC.byteLength + 2)).toString("utf8")));
  } catch (e) {
    throw invalid(`envelope header is malformed: ${(e as Error).message}`, e);
  }
  if (header.keyId !== keyId) {
    throw new ProvmarkError(
      "ENVELOPE_DECRYPT_FAILED",
      `the envelope was sealed with key ${header.keyId}, not with this key (${keyId})`,
      { hints: ["Use the envelope key of the release that stored this artifact (its key id is in the manifest)."] },
    );
  }
  return { header, bytes };
}

/**
 * Opens a sealed stream, yielding plaintext segment by segment. Each yielded segment is
 * authentic, but only the end of the stream proves nothing was cut off: treat the output as
 * untrusted until the iteration finishes without throwing. Wrong key or altered bytes:
 * ENVELOPE_DECRYPT_FAILED; malformed, truncated or extended: ENVELOPE_INVALID.
 */
export function openStream(key: Uint8Array, source: ByteSource): AsyncIterable<Uint8Array> {
  const k = assertKey(key);
  const keyId = envelopeKeyId(k);
  return (async function* () {
    const queue = new ByteQueue();
    let head: Head | undefined;
    let index = 0;
    const open = (last: boolean, sealed: Uint8Array): Uint8Array => {
      const h = head as Head;
      if (index > 0xffff_ffff) throw invalid("envelope has more than 2^32 segments");
      const plain = openSegment(k, h, index, last, sealed);
      if (plain !== undefined) {
        index++;
        return plain;
      }
      // a segment that opens with the other last flag was moved, not altered: name what happened
      if (openSegment(k, h, index, !last, sealed) !== undefined) {
        throw invalid(
          last
            ? `envelope truncated: it ends after segment ${index}, which was not sealed as the last`
            : `envelope extended: bytes follow segment ${index}, which was sealed as the last`,
        );
      }
      throw new ProvmarkError(
        "ENVELOPE_DECRYPT_FAILED",
        `envelope segment ${index} failed authentication: the envelope was altered`,
        { hints: ["Fetch the artifact again by its CID; if it still fails, this copy was tampered with."] },
      );
    };
    for await (const chunk of source) {
      queue.push(chunk);
      head ??= readHeader(queue, keyId);
      if (head === undefined) continue;
      const sealedSize = head.header.segmentSize + TAG_BYTES;
      while (queue.length > sealedSize) yield open(false, queue.take(sealedSize));
    }
    head ??= readHeader(queue, keyId);
    if (head === undefined) throw invalid(`envelope truncated inside its header (${queue.length} bytes)`);
    if (queue.length < TAG_BYTES) {
      throw invalid(`envelope truncated: ${queue.length} bytes after segment ${index}, a segment has at least 16`);
    }
    yield open(true, queue.take(queue.length));
  })();
}

async function collect(source: ByteSource): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

/** Seals `bytes` whole. @example const sealed = await sealEnvelope(key, weights) */
export async function sealEnvelope(key: Uint8Array, bytes: Uint8Array): Promise<Uint8Array> {
  return collect(sealStream(key, [bytes]));
}

/** Opens a whole envelope; returns only once every segment, the last included, is verified. */
export async function openEnvelope(key: Uint8Array, bytes: Uint8Array): Promise<Uint8Array> {
  return collect(openStream(key, [bytes]));
}
