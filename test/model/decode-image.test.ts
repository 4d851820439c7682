import sharp from "sharp";
import { describe, expect, it } from "vitest";
import type { ImageInput } from "../../src/core/input/model-io.js";
import { createRng } from "../../src/core/rng.js";
import { decodeImage, probeImage } from "../../src/model/decode-image.js";

const spec = (
  height: number,
  width: number,
  channels: 1 | 3,
  resize: Partial<ImageInput["resize"]> = {},
): ImageInput => ({
  kind: "image",
  height,
  width,
  channels,
  channelOrder: channels === 1 ? "gray" : "rgb",
  preprocess: { type: "affine", scale: 1 / 127, offset: -1 },
  resize: { mode: "stretch", filter: "bilinear", ...resize },
});

const randomBytes = (n: number, seed: number) => {
  const rng = createRng(seed, "decode-test");
  return Uint8Array.from({ length: n }, () => rng.int(256));
};

/** Encodes raw H×W×C bytes with sharp. */
const encode = (bytes: Uint8Array, width: number, height: number, channels: 1 | 3 | 4) =>
  sharp(Buffer.from(bytes), { raw: { width, height, channels } });

const px = (out: Uint8Array, i: number) => Array.from(out.subarray(3 * i, 3 * i + 3));

describe("decodeImage", () => {
  it("decodes lossless PNG and WebP of the model's size to exactly the bytes encoded", async () => {
    const rgb = randomBytes(7 * 5 * 3, 1);
    for (const encoded of [
      await encode(rgb, 7, 5, 3).png().toBuffer(),
      await encode(rgb, 7, 5, 3).webp({ lossless: true }).toBuffer(),
    ]) {
      expect(Buffer.from(await decodeImage(encoded, spec(5, 7, 3), "x")).equals(Buffer.from(rgb))).toBe(true);
    }
    const gray = randomBytes(6 * 4, 2);
    const grayPng = await encode(gray, 6, 4, 1).toColourspace("b-w").png().toBuffer();
    expect((await sharp(grayPng).metadata()).channels).toBe(1);
    expect(Array.from(await decodeImage(grayPng, spec(4, 6, 1), "g"))).toEqual(Array.from(gray));
  });

  it("turns RGB into gray with Teachable Machine's 0.2989 R + 0.5870 G + 0.1140 B", async () => {
    // and a colour where Rec. 601's 0.299 R would round the other way
    const tm = (r: number, g: number, b: number) => Math.round(0.2989 * r + 0.587 * g + 0.114 * b);
    const r = Array.from({ length: 256 }, (_, v) => v).find((v) => tm(v, 7, 0) !== Math.round(0.299 * v + 0.587 * 7));
    const colours = [255, 0, 0, 0, 255, 0, 0, 0, 255, r ?? 0, 7, 0];
    const png = await encode(Uint8Array.from(colours), 4, 1, 3).png().toBuffer();
    const out = await decodeImage(png, spec(1, 4, 1), "c");
    const expected = [0, 1, 2, 3].map((i) => tm(colours[3 * i] ?? 0, colours[3 * i + 1] ?? 0, colours[3 * i + 2] ?? 0));
    expect(r).toBeDefined();
    expect(Array.from(out)).toEqual(expected);
    // not libvips' own gray (another formula, in linear light)
    const vips = await sharp(png).greyscale().raw().toBuffer();
    expect(Array.from(vips)).not.toEqual(expected);
  });

  it("composites alpha onto black", async () => {
    const rgba = Uint8Array.from([255, 255, 255, 0, 200, 100, 50, 255, 200, 100, 50, 128]);
    const out = await decodeImage(await encode(rgba, 3, 1, 4).png().toBuffer(), spec(1, 3, 3), "a");
    expect(px(out, 0)).toEqual([0, 0, 0]);
    expect(px(out, 1)).toEqual([200, 100, 50]);
    px(out, 2).forEach((v, c) => {
      expect(Math.abs(v - ((rgba[8 + c] as number) * 128) / 255)).toBeLessThanOrEqual(1);
    });
  });

  // columns red, green, blue, white; 4 wide × 2 high
  const row = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255];
  const stripes = Uint8Array.from([...row, ...row]);
  const col = (c: number) => Array.from(stripes.subarray(3 * c, 3 * c + 3));

  it("center-crop scales the short side and keeps the centre; pad letterboxes in black", async () => {
    const png = await encode(stripes, 4, 2, 3).png().toBuffer();
    const crop = await decodeImage(png, spec(2, 2, 3, { mode: "center-crop" }), "s");
    expect([px(crop, 0), px(crop, 1), px(crop, 2), px(crop, 3)]).toEqual([col(1), col(2), col(1), col(2)]);
    const pad = await decodeImage(png, spec(4, 4, 3, { mode: "pad" }), "s");
    const rows = [0, 1, 2, 3].map((r) => [0, 1, 2, 3].map((c) => px(pad, r * 4 + c)));
    expect(rows[0]).toEqual(Array(4).fill([0, 0, 0]));
    expect(rows[3]).toEqual(Array(4).fill([0, 0, 0]));
    expect(rows[1]).toEqual([col(0), col(1), col(2), col(3)]);
    expect(rows[2]).toEqual(rows[1]);
  });

  it("stretch resamples the whole image (bilinear blends, nearest picks source pixels)", async () => {
    const png = await encode(stripes, 4, 2, 3).png().toBuffer();
    const bilinear = await decodeImage(png, spec(2, 2, 3), "s");
    const [r, g, b] = px(bilinear, 0) as [number, number, number];
    expect(r).toBeGreaterThan(0);
    expect(r).toBeLessThan(255);
    expect(g).toBeGreaterThan(0);
    expect(b).toBeLessThan(128);
    const nearest = await decodeImage(png, spec(2, 2, 3, { filter: "nearest" }), "s");
    const sources = [0, 1, 2, 3].map(col);
    for (let i = 0; i < 4; i++) expect(sources).toContainEqual(px(nearest, i));
    const tiny = await encode(Uint8Array.from([12, 200, 99]), 1, 1, 3)
      .png()
      .toBuffer();
    const big = await decodeImage(tiny, spec(224, 224, 3), "1x1");
    expect(new Set(Array.from({ length: 224 * 224 }, (_, i) => px(big, i).join()))).toEqual(new Set(["12,200,99"]));
  });

  it("applies EXIF orientation before sizing, and decodes JPEG and 16-bit PNG", async () => {
    // the stripes at 8× (32 × 16), so JPEG's 8×8 blocks keep the colours apart
    const big = Uint8Array.from(
      { length: 32 * 16 * 3 },
      (_, i) => col(Math.floor(((i / 3) % 32) / 8))[i % 3] as number,
    );
    const jpeg = await encode(big, 32, 16, 3)
      .jpeg({ quality: 100, chromaSubsampling: "4:4:4" })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    expect(await probeImage(jpeg, "j")).toEqual({ format: "jpeg", width: 16, height: 32 });
    const upright = await decodeImage(jpeg, spec(32, 16, 3), "j", { resize: false });
    // turned 90° clockwise: the red first column is now the top rows, white the bottom ones
    for (const [i, colour] of [
      [0, col(0)],
      [31 * 16 + 15, col(3)],
    ] as const) {
      px(upright, i).forEach((v, c) => {
        expect(Math.abs(v - (colour[c] as number))).toBeLessThan(12);
      });
    }
    const sixteen = await encode(stripes, 4, 2, 3).toColourspace("rgb16").png().toBuffer();
    expect((await sharp(sixteen).metadata()).depth).toBe("ushort");
    expect(Array.from(await decodeImage(sixteen, spec(2, 4, 3), "16"))).toEqual(Array.from(stripes));
  });

  it("names the image and the problem: CMYK, another format, garbage, truncation, size", async () => {
    const rgb = randomBytes(8 * 8 * 3, 3);
    const cmyk = await encode(rgb, 8, 8, 3).toColourspace("cmyk").jpeg().toBuffer();
    await expect(decodeImage(cmyk, spec(8, 8, 3), "cmyk.jpg")).rejects.toMatchObject({
      code: "IMAGE_COLOURSPACE",
      subject: "cmyk.jpg",
      message: expect.stringContaining("cmyk"),
    });
    const gif = await encode(rgb, 8, 8, 3).gif().toBuffer();
    await expect(decodeImage(gif, spec(8, 8, 3), "a.png")).rejects.toMatchObject({
      code: "IMAGE_UNSUPPORTED",
      message: "a.png is a GIF image, not a PNG, JPEG or WebP image",
    });
    await expect(decodeImage(new TextEncoder().encode("hello"), spec(8, 8, 3), "t.png")).rejects.toMatchObject({
      code: "IMAGE_CORRUPT",
      subject: "t.png",
    });
    const png = await encode(randomBytes(40 * 30 * 3, 4), 40, 30, 3)
      .png()
      .toBuffer();
    await expect(decodeImage(png.subarray(0, png.length - 40), spec(30, 40, 3), "cut.png")).rejects.toMatchObject({
      code: "IMAGE_CORRUPT",
      message: expect.stringMatching(/^cut\.png could not be decoded as PNG: /),
    });
    await expect(decodeImage(png, spec(30, 41, 3), "p.png", { resize: false })).rejects.toMatchObject({
      code: "IMAGE_SIZE",
      message: "p.png is 40×30 pixels; 41×30 (width × height) is required here",
    });
  });
});
