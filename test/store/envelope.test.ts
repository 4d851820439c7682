import { createDecipheriv, createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  envelopeKeyId,
  isEnvelope,
  openEnvelope,
  openStream,
  sealEnvelope,
  sealStream,
} from "../../src/store/envelope.js";
import { rejection, seededBytes } from "./helpers.js";

const key = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const otherKey = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
const SEGMENT = 65_536;
const TAG = 16;

/** Header length as the format defines it: magic (7) + u16 length + JSON. */
function headerLength(sealed: Uint8Array): number {
  return 9 + Buffer.from(sealed).readUInt16BE(7);
}

function headerJson(sealed: Uint8Array): Record<string, unknown> {
  return JSON.parse(Buffer.from(sealed.subarray(9, headerLength(sealed))).toString("utf8"));
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of source) parts.push(p);
  return Buffer.concat(parts);
}

/** Feeds `bytes` in pieces of varying size, as a file or socket would. */
async function* pieces(bytes: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < bytes.byteLength; i++) {
    const n = sizes[i % sizes.length] as number;
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

const failsAsEnvelope = async (p: Promise<unknown>): Promise<boolean> =>
  p.then(
    () => false,
    (e: { code?: string }) => e.code === "ENVELOPE_INVALID" || e.code === "ENVELOPE_DECRYPT_FAILED",
  );

describe("envelope (AES-256-GCM, STREAM segments)", () => {
  it.each([0, 1, 65_535, 65_536, 65_537, 200_000])("round-trips %i bytes, whole and streamed", async (n) => {
    const plain = seededBytes(n, `env-${n}`);
    const sealed = await sealEnvelope(key, plain);
    const segments = n === 0 ? 1 : Math.ceil(n / SEGMENT);
    expect(sealed.byteLength).toBe(headerLength(sealed) + n + segments * TAG);
    expect(isEnvelope(sealed)).toBe(true);
    expect(Buffer.from(await openEnvelope(key, sealed))).toEqual(Buffer.from(plain));
    const streamedSealed = await collect(sealStream(key, pieces(plain, [1, 7000, 65_536, 100_003])));
    expect(Buffer.from(await collect(openStream(key, pieces(streamedSealed, [3, 5, 70_000]))))).toEqual(
      Buffer.from(plain),
    );
  });

  it("writes the documented layout, which node:crypto alone can open", async () => {
    const plain = seededBytes(70_000, "layout");
    const sealed = await sealEnvelope(key, plain);
    expect(Buffer.from(sealed.subarray(0, 7)).toString("latin1")).toBe("PMENV1\n");
    const header = headerJson(sealed);
    const keyId = createHash("sha256").update("provmark/envelope-key-id/v1").update(key).digest().subarray(0, 16);
    expect(header).toEqual({
      version: 1,
      alg: "AES-256-GCM",
      segmentSize: 65_536,
      noncePrefix: expect.stringMatching(/^[0-9a-f]{14}$/),
      keyId: keyId.toString("hex"),
    });
    expect(envelopeKeyId(key)).toBe(keyId.toString("hex"));
    // decrypt both segments by hand: nonce = prefix ‖ u32be(i) ‖ last, AAD = the header bytes
    const aad = sealed.subarray(0, headerLength(sealed));
    const open = (i: number, last: boolean, seg: Uint8Array) => {
      const nonce = Buffer.concat([
        Buffer.from(header.noncePrefix as string, "hex"),
        Buffer.from([0, 0, 0, i]),
        Buffer.from([last ? 1 : 0]),
      ]);
      const d = createDecipheriv("aes-256-gcm", key, nonce).setAAD(aad);
      d.setAuthTag(seg.subarray(seg.byteLength - TAG));
      return Buffer.concat([d.update(seg.subarray(0, seg.byteLength - TAG)), d.final()]);
    };
    const body = sealed.subarray(aad.byteLength);
    const first = open(0, false, body.subarray(0, SEGMENT + TAG));
    const second = open(1, true, body.subarray(SEGMENT + TAG));
    expect(Buffer.concat([first, second])).toEqual(Buffer.from(plain));
  });

  it("uses a fresh nonce prefix per envelope, so equal plaintexts give unrelated ciphertexts", async () => {
    const plain = seededBytes(1000, "nonce");
    const [a, b] = [await sealEnvelope(key, plain), await sealEnvelope(key, plain)];
    expect(headerJson(a).noncePrefix).not.toBe(headerJson(b).noncePrefix);
    expect(Buffer.from(a.subarray(headerLength(a)))).not.toEqual(Buffer.from(b.subarray(headerLength(b))));
  });

  it("names a wrong key as such, before decrypting", async () => {
    const sealed = await sealEnvelope(key, seededBytes(100, "wrong"));
    const e = await rejection(openEnvelope(otherKey, sealed), "ENVELOPE_DECRYPT_FAILED");
    expect(e.message).toContain(envelopeKeyId(key));
    expect(e.message).toContain(envelopeKeyId(otherKey));
  });

  it("refuses keys that are not 32 bytes", async () => {
    expect(() => sealStream(new Uint8Array(16), [])).toThrow(expect.objectContaining({ code: "USAGE" }));
    await rejection(openEnvelope(new Uint8Array(31), new Uint8Array()), "USAGE");
  });

  it("tells truncation at a segment boundary and reordered segments apart from damage", async () => {
    const sealed = await sealEnvelope(key, seededBytes(3 * SEGMENT + 5, "cut"));
    const h = headerLength(sealed);
    const seg = (i: number) => sealed.subarray(h + i * (SEGMENT + TAG), h + (i + 1) * (SEGMENT + TAG));
    const cut = await rejection(openEnvelope(key, sealed.subarray(0, h + 2 * (SEGMENT + TAG))), "ENVELOPE_INVALID");
    expect(cut.message).toContain("truncated");
    await rejection(openEnvelope(key, sealed.subarray(0, h)), "ENVELOPE_INVALID");
    const swapped = Buffer.concat([sealed.subarray(0, h), seg(1), seg(0), sealed.subarray(h + 2 * (SEGMENT + TAG))]);
    await rejection(openEnvelope(key, swapped), "ENVELOPE_DECRYPT_FAILED");
    const extended = Buffer.concat([sealed, seg(0)]);
    await expect(failsAsEnvelope(openEnvelope(key, extended))).resolves.toBe(true);
  });

  it("refuses an edited header even when it still parses (the header is every segment's AAD)", async () => {
    const sealed = await sealEnvelope(key, seededBytes(5000, "hdr"));
    const header = headerJson(sealed);
    const json = Buffer.from(JSON.stringify({ ...header, segmentSize: 32_768 }));
    const len = Buffer.alloc(2);
    len.writeUInt16BE(json.byteLength);
    const edited = Buffer.concat([Buffer.from("PMENV1\n"), len, json, sealed.subarray(headerLength(sealed))]);
    await rejection(openEnvelope(key, edited), "ENVELOPE_DECRYPT_FAILED");
    await rejection(openEnvelope(key, Buffer.from("PMENV2\n{}")), "ENVELOPE_INVALID");
    await rejection(openEnvelope(key, new Uint8Array()), "ENVELOPE_INVALID");
  });

  describe("property: every change to an envelope is refused", () => {
    const plain = seededBytes(2 * SEGMENT + 1234, "prop");
    const sealedPromise = sealEnvelope(key, plain);

    it("any single-bit flip", async () => {
      const sealed = await sealedPromise;
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: sealed.byteLength * 8 - 1 }), async (bit) => {
          const flipped = Buffer.from(sealed);
          flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7));
          return failsAsEnvelope(openEnvelope(key, flipped));
        }),
        { numRuns: 300 },
      );
    });

    it("any truncation", async () => {
      const sealed = await sealedPromise;
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: sealed.byteLength - 1 }), async (length) =>
          failsAsEnvelope(openEnvelope(key, sealed.subarray(0, length))),
        ),
        { numRuns: 300 },
      );
    });

    it("any appended bytes", async () => {
      const sealed = await sealedPromise;
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), async (extra) =>
          failsAsEnvelope(openEnvelope(key, Buffer.concat([sealed, extra]))),
        ),
        { numRuns: 200 },
      );
    });
  });
});
