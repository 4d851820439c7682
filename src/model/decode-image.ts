import type { ImageInput } from "../core/input/model-io.js";
import { ProvmarkError } from "../errors.js";

export interface DecodeImageOptions {
  /**
   * Whether an image of another size is brought to the spec's size by `spec.resize` (default true).
   * False: it must have the spec's size already (after EXIF orientation), else IMAGE_SIZE.
   */
  readonly resize?: boolean;
}

/** Formats sniffed from the first bytes: the three provmark decodes, and others named in errors. */
const ACCEPTED = { png: "PNG", jpeg: "JPEG", webp: "WebP" } as const;
type Accepted = keyof typeof ACCEPTED;

function sniff(b: Uint8Array): Accepted | string | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (b[0] === 0x89 && ascii(1, 4) === "PNG") return "png";
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "webp";
  if (ascii(0, 4) === "GIF8") return "a GIF image";
  if (ascii(0, 4) === "II*\0" || ascii(0, 4) === "MM\0*") return "a TIFF image";
  if (ascii(0, 2) === "BM") return "a BMP image";
  if (ascii(4, 8) === "ftyp") return "a HEIF/AVIF image or a video";
  return undefined;
}

/** Colour spaces libvips reports for RGB and gray images, which convert to sRGB exactly. */
const RGB_OR_GRAY = new Set(["srgb", "rgb", "b-w", "rgb16", "grey16"]);
const FIT = { stretch: "fill", "center-crop": "cover", pad: "contain" } as const;
const KERNEL = { bilinear: "linear", nearest: "nearest" } as const;

export interface ImageInfo {
  readonly format: "png" | "jpeg" | "webp";
  /** After EXIF orientation. */
  readonly width: number;
  readonly height: number;
}

/**
 * Checks that `bytes` are a PNG, JPEG or WebP image in RGB or gray and reads its size, without
 * decoding the pixels. Coded errors name `subject`: IMAGE_UNSUPPORTED (another format),
 * IMAGE_CORRUPT (no known format, or an unreadable header), IMAGE_COLOURSPACE (CMYK).
 */
export async function probeImage(bytes: Uint8Array, subject: string): Promise<ImageInfo> {
  const format = sniff(bytes);
  if (format === undefined || !Object.hasOwn(ACCEPTED, format)) {
    const what = format === undefined ? "not a PNG, JPEG or WebP image" : `${format}, not a PNG, JPEG or WebP image`;
    throw new ProvmarkError(format === undefined ? "IMAGE_CORRUPT" : "IMAGE_UNSUPPORTED", `${subject} is ${what}`, {
      subject,
      hints: ["provmark decodes PNG, JPEG and WebP; convert other images (e.g. to PNG) or remove the file."],
    });
  }
  const accepted = format as Accepted;
  const sharp = await loadSharp();
  const meta = await sharp(bytes)
    .metadata()
    .catch((e: unknown) => {
      throw corrupt(e, subject, accepted);
    });
  if (!RGB_OR_GRAY.has(meta.space ?? "")) {
    throw new ProvmarkError("IMAGE_COLOURSPACE", `${subject} is in the ${meta.space} colour space, not RGB or gray`, {
      subject,
      hints: ["Save it as sRGB (e.g. `convert in.jpg -colorspace sRGB out.jpg`, or any image editor's RGB export)."],
    });
  }
  return {
    format: accepted,
    width: meta.autoOrient?.width ?? meta.width,
    height: meta.autoOrient?.height ?? meta.height,
  };
}

// Loaded on first use, not at the top: libvips is large and most commands never decode an image.
const loadSharp = async () => (await import("sharp")).default;

const corrupt = (e: unknown, subject: string, format: Accepted) =>
  new ProvmarkError(
    "IMAGE_CORRUPT",
    `${subject} could not be decoded as ${ACCEPTED[format]}: ${(e as Error).message}`,
    {
      subject,
      cause: e,
      hints: ["The file is truncated or damaged: export it again, or remove it."],
    },
  );

/**
 * Decodes one PNG, JPEG or WebP image (sniffed from its bytes, never from a name) into the bytes
 * `toModelInput` takes: `spec.height × spec.width × spec.channels`, row-major, gray or RGB.
 * In order: EXIF orientation applied; alpha composited onto black; brought to the spec's size by
 * `spec.resize` (stretch; center-crop = scale the short side, crop the centre, Teachable Machine's
 * policy; pad = fit inside, black borders); converted to sRGB; for one channel, Teachable Machine's
 * gray 0.2989 R + 0.5870 G + 0.1140 B, rounded. An image of the spec's size is not resampled, so
 * lossless encodings (PNG, lossless WebP) of spec-sized bytes decode to exactly those bytes.
 * `subject` (a path, or e.g. `request 3`) names the image in errors (see `probeImage`; IMAGE_SIZE
 * when `resize: false` and the size differs).
 *
 * @example
 * const pixels = await decodeImage(await readFile("cat.png"), io.input, "cat.png");
 * const x = toModelInput(io.input, pixels);
 */
export async function decodeImage(
  bytes: Uint8Array,
  spec: ImageInput,
  subject: string,
  options: DecodeImageOptions = {},
): Promise<Uint8Array> {
  const { format, width, height } = await probeImage(bytes, subject);
  const sharp = await loadSharp();
  const sized = width === spec.width && height === spec.height;
  if (!sized && options.resize === false) {
    throw new ProvmarkError(
      "IMAGE_SIZE",
      `${subject} is ${width}×${height} pixels; ${spec.width}×${spec.height} (width × height) is required here`,
      {
        subject,
        hints: [
          "Without the model's input description there is no resize policy: give every image one size,",
          "or load the dataset for a model (its ModelIO's resize policy then applies).",
        ],
      },
    );
  }
  // At the spec's size libvips leaves the pixels as they are (tested): no special case needed.
  const pipeline = sharp(bytes).autoOrient().flatten({ background: "#000000" }).resize({
    width: spec.width,
    height: spec.height,
    fit: FIT[spec.resize.mode],
    position: "centre",
    kernel: KERNEL[spec.resize.filter],
    background: "#000000",
    // Decode at full size before resampling: JPEG's shrink-on-load would give other pixels.
    fastShrinkOnLoad: false,
  });
  const { data, info } = await pipeline
    .toColourspace("srgb")
    .raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true })
    .catch((e: unknown) => {
      throw corrupt(e, subject, format);
    });
  const n = spec.width * spec.height;
  if (info.channels !== 3 || info.width !== spec.width || info.height !== spec.height) {
    throw new ProvmarkError(
      "INTERNAL",
      `decoding ${subject} gave ${info.width}×${info.height}×${info.channels}, not ${spec.width}×${spec.height}×3`,
      { subject },
    );
  }
  if (spec.channels === 3) return new Uint8Array(data.buffer, data.byteOffset, n * 3);
  const gray = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    gray[i] = Math.round(
      0.2989 * (data[3 * i] as number) + 0.587 * (data[3 * i + 1] as number) + 0.114 * (data[3 * i + 2] as number),
    );
  }
  return gray;
}
