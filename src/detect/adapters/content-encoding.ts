import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from "node:zlib";

/** The encodings provmark asks for (Accept-Encoding) and can undo. */
export const ACCEPTED_ENCODINGS = "gzip, deflate, br";

export type Decoded = { ok: true; body: Uint8Array } | { ok: false; detail: string; tooLarge?: true };

const DECODERS: Record<string, (b: Uint8Array, maxOutputLength: number) => Buffer> = {
  gzip: (b, maxOutputLength) => gunzipSync(b, { maxOutputLength }),
  "x-gzip": (b, maxOutputLength) => gunzipSync(b, { maxOutputLength }),
  br: (b, maxOutputLength) => brotliDecompressSync(b, { maxOutputLength }),
  // "deflate" is meant to be zlib-wrapped; some servers send raw deflate (browsers accept both)
  deflate: (b, maxOutputLength) => {
    try {
      return inflateSync(b, { maxOutputLength });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw e;
      return inflateRawSync(b, { maxOutputLength });
    }
  },
};

/**
 * Undoes a response's Content-Encoding (a comma list, applied in order, so undone last to first):
 * what the parsers read. The bytes as received stay what is hashed and kept; this runs when a
 * response arrives and again when evidence is re-checked, from the recorded encoding. A body that
 * does not decode, an unknown encoding, or one that inflates past `maxBytes` is a failure, never
 * an exception.
 */
export function decodeContentEncoding(raw: Uint8Array, encoding: string | null, maxBytes: number): Decoded {
  const codings = (encoding ?? "")
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
  let body = raw;
  for (const coding of codings.reverse()) {
    const decode = DECODERS[coding];
    if (decode === undefined) return { ok: false, detail: `unsupported Content-Encoding ${JSON.stringify(coding)}` };
    try {
      body = decode(body, maxBytes);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
        return { ok: false, detail: `the ${coding} body inflates to larger than ${maxBytes} bytes`, tooLarge: true };
      }
      return { ok: false, detail: `the body is not valid ${coding} (${(e as Error).message})` };
    }
  }
  return { ok: true, body };
}
