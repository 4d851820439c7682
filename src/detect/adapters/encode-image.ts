import { ProvmarkError } from "../../errors.js";
import type { QueryInput } from "./types.js";

/** The JPEG quality queries are sent at: a typical client's, high enough that most answers survive. */
export const JPEG_QUALITY = 90;

export const IMAGE_MEDIA_TYPE = { png: "image/png", jpeg: "image/jpeg" } as const;

// Loaded on first use: libvips is large and tensor runs never need it.
const loadSharp = async () => (await import("sharp")).default;

/**
 * One query's uint8 pixels as an encoded image: PNG is lossless (gray for one channel, RGB for
 * three), so a server that decodes it gets exactly the bytes the certificate's triggers are made of;
 * JPEG is lossy (quality {@link JPEG_QUALITY}, full-resolution chroma: 4:2:0 would average the colours of noise triggers away) and some answers may change.
 *
 * @example
 * const png = await encodeImage({ id: "q0", pixels, shape: [28, 28, 1] }, "png");
 */
export async function encodeImage(q: QueryInput, format: "png" | "jpeg"): Promise<Uint8Array> {
  const [height, width, channels] = q.shape;
  if (channels !== 1 && channels !== 3) {
    throw new ProvmarkError(
      "USAGE",
      `--encoding ${format} needs gray or RGB images; the model takes ${channels} channels`,
      {
        subject: "--encoding",
        hints: ["Send tensors (--encoding tensor) to this model."],
      },
    );
  }
  const sharp = await loadSharp();
  const img = sharp(Buffer.from(q.pixels.buffer, q.pixels.byteOffset, q.pixels.byteLength), {
    raw: { width, height, channels },
  });
  // Fixed settings, so the same pixels always give the same bytes (and the same request hashes).
  const out =
    format === "png"
      ? img.png({ compressionLevel: 9, adaptiveFiltering: false, palette: false })
      : img.jpeg({ quality: JPEG_QUALITY, chromaSubsampling: "4:4:4", mozjpeg: false });
  const buf = await out.toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Base64 of each query's encoded image, in batch order. */
export async function encodeBase64(batch: readonly QueryInput[], format: "png" | "jpeg"): Promise<string[]> {
  const images = await Promise.all(batch.map((q) => encodeImage(q, format)));
  return images.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64"));
}
