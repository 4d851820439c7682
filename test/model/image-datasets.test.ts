import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp, { type Sharp } from "sharp";
import { describe, expect, it } from "vitest";
import { type ImageInput, type ModelIO, PREPROCESS_PRESETS } from "../../src/core/input/model-io.js";
import type { ImageDataset, ImageSplit } from "../../src/model/datasets/dataset.js";
import { loadDataset } from "../../src/model/datasets/index.js";
import { decodeImage } from "../../src/model/decode-image.js";
import { tempDir } from "../helpers/fixtures.js";

const TM = new URL("../fixtures/teachable-machine/", import.meta.url).pathname;
const TM_IMAGES = join(TM, "training-images");
const labels = async (model: string): Promise<string[]> =>
  JSON.parse(await readFile(join(TM, model, "metadata.json"), "utf8")).labels;

/** Teachable Machine's own input policy: short side scaled, centre crop, pixel/127 - 1. */
const tmInput = (size: number, channels: 1 | 3): ImageInput => ({
  kind: "image",
  height: size,
  width: size,
  channels,
  channelOrder: channels === 1 ? "gray" : "rgb",
  preprocess: PREPROCESS_PRESETS["pixel/127-1"].preprocess,
  resize: { mode: "center-crop", filter: "bilinear" },
});
const tmIO = async (names?: string[]): Promise<ModelIO> => ({
  input: tmInput(224, 3),
  classes: { count: 2, names: names ?? (await labels("image-model")) },
});

const digest = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
/** sha256 of each example's pixels. */
const images = (s: ImageSplit, size: number) =>
  Array.from({ length: s.count }, (_, i) => digest(s.pixels.subarray(i * size, (i + 1) * size)));
const size = (d: ImageDataset) => d.inputShape[0] * d.inputShape[1] * d.inputShape[2];

async function write(path: string, image: Sharp) {
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, await image.toBuffer());
}
const solid = (width: number, height: number, r: number, g: number, b: number) =>
  sharp({ create: { width, height, channels: 3, background: { r, g, b } } });

describe("images:<dir>", () => {
  it("loads Teachable Machine's 22 training images for its model: centre crop, pixel/127 - 1, 18/4 split", async () => {
    const io = await tmIO();
    const d = await loadDataset(`images:${TM_IMAGES}`, { io });
    expect([d.kind, d.labelled, d.numClasses, d.train.count, d.test.count]).toEqual(["image", true, 2, 18, 4]);
    expect(d.io).toEqual(io);
    expect(d.inputShape).toEqual([224, 224, 3]);
    expect(Array.from(d.test.y).sort()).toEqual([0, 0, 1, 1]);
    for (const i of [0, 1, 2, 150_000, d.train.x.length - 1]) {
      expect(d.train.x[i]).toBe(Math.fround((d.train.pixels[i] as number) / 127 - 1));
    }
    // every file exactly once, each with the class of its folder, pixels as decoded from the file
    const byFile = new Map<string, number>();
    for (const [label, folder] of io.classes.names?.entries() ?? []) {
      for (const f of await readdir(join(TM_IMAGES, folder))) {
        const px = await decodeImage(await readFile(join(TM_IMAGES, folder, f)), io.input as ImageInput, f);
        byFile.set(digest(px), label);
      }
    }
    const loaded = [...images(d.train, size(d)), ...images(d.test, size(d))];
    const loadedLabels = [...d.train.y, ...d.test.y];
    expect(new Set(loaded).size).toBe(22);
    loaded.forEach((h, i) => {
      expect(byFile.get(h)).toBe(loadedLabels[i]);
    });
    expect(d.splitNote).toContain("22 images in 2 class folders");
  });

  it("takes class order from the model's names, else sorted folders; the split does not change", async () => {
    const a = await loadDataset(`images:${TM_IMAGES}`, { io: await tmIO(["Class 1", "Class 2"]) });
    const b = await loadDataset(`images:${TM_IMAGES}`, { io: await tmIO(["Class 2", "Class 1"]) });
    expect(images(b.test, size(b))).toEqual(images(a.test, size(a)));
    expect(Array.from(b.train.y, (v) => 1 - v)).toEqual(Array.from(a.train.y));
    const plain = await loadDataset(`images:${TM_IMAGES}`, { classNames: ["Class 2", "Class 1"] });
    expect(Array.from(plain.train.y)).toEqual(Array.from(b.train.y));
    await expect(
      loadDataset(`images:${TM_IMAGES}`, { io: await tmIO(), classNames: ["Class 2", "Class 1"] }),
    ).rejects.toMatchObject({ code: "USAGE" });
  });

  it("without a model: RGB pixel/255 at the images' own size, classes named by folder", async () => {
    const d = await loadDataset(`images:${TM_IMAGES}`);
    expect(d.io).toEqual({
      input: {
        kind: "image",
        height: 224,
        width: 224,
        channels: 3,
        channelOrder: "rgb",
        preprocess: PREPROCESS_PRESETS["pixel/255"].preprocess,
        resize: { mode: "stretch", filter: "bilinear" },
      },
      classes: { count: 2, names: ["Class 1", "Class 2"] },
    });
    expect(d.test.x[5]).toBe(Math.fround((d.test.pixels[5] as number) / 255));
  });

  it("decodes for gray models (Teachable Machine's tiny 96×96 export)", async () => {
    const io: ModelIO = { input: tmInput(96, 1), classes: { count: 2, names: await labels("tiny-image-model") } };
    const d = await loadDataset(`images:${TM_IMAGES}`, { io });
    expect(d.inputShape).toEqual([96, 96, 1]);
    expect(d.train.pixels.length).toBe(18 * 96 * 96);
    const one = await decodeImage(await readFile(join(TM_IMAGES, "Class 1", "0.png")), tmInput(96, 1), "0.png");
    expect(images(d.train, 96 * 96).concat(images(d.test, 96 * 96))).toContain(digest(one));
  });

  it("reads PNG, JPEG and WebP of any size, skipping hidden files", async () => {
    const dir = await tempDir();
    await write(join(dir, "cat", "a.jpg"), solid(40, 30, 200, 30, 30).jpeg());
    await write(join(dir, "cat", "b.WEBP"), solid(16, 16, 210, 20, 40).webp({ lossless: true }));
    await write(join(dir, "dog", "c.png"), solid(1, 1, 20, 40, 220).png());
    await write(join(dir, "dog", "d.jpeg"), solid(300, 170, 30, 30, 200).jpeg());
    await writeFile(join(dir, "dog", ".DS_Store"), "not an image");
    const io: ModelIO = {
      input: { ...tmInput(16, 3), resize: { mode: "pad", filter: "bilinear" } },
      classes: { count: 2 },
    };
    const d = await loadDataset(`images:${dir}`, { io });
    expect(d.train.count + d.test.count).toBe(4);
    const all = [d.train, d.test].flatMap((s) =>
      Array.from({ length: s.count }, (_, i) => ({ y: s.y[i], p: s.pixels.subarray(i * 768, (i + 1) * 768) })),
    );
    for (const { y, p } of all) {
      // the centre pixel is the image's colour: red for cats, blue for dogs
      const [r, , b] = p.subarray(8 * 16 * 3 + 8 * 3, 8 * 16 * 3 + 8 * 3 + 3);
      expect(y === 0 ? (r as number) > 150 && (b as number) < 80 : (b as number) > 150 && (r as number) < 80).toBe(
        true,
      );
    }
  });

  it("names the file for CMYK, corrupt, unsupported and wrong-size images", async () => {
    const make = async (bad: (dir: string) => Promise<void>) => {
      const dir = await tempDir();
      await write(join(dir, "a", "ok.png"), solid(8, 8, 1, 2, 3).png());
      await write(join(dir, "b", "ok.png"), solid(8, 8, 3, 2, 1).png());
      await bad(dir);
      return `images:${dir}`;
    };
    const io = await tmIO(["a", "b"]);
    const cases: [string, (dir: string) => Promise<void>, string][] = [
      [
        "IMAGE_COLOURSPACE",
        (d) => write(join(d, "b", "cmyk.jpg"), solid(8, 8, 200, 10, 10).toColourspace("cmyk").jpeg()),
        "b/cmyk.jpg",
      ],
      ["IMAGE_CORRUPT", (d) => writeFile(join(d, "a", "broken.png"), "PNG? no"), "a/broken.png"],
      [
        "IMAGE_CORRUPT",
        async (d) => {
          const png = await solid(64, 64, 9, 9, 9).png({ compressionLevel: 0 }).toBuffer();
          await writeFile(join(d, "a", "cut.png"), png.subarray(0, png.length / 2));
        },
        "a/cut.png",
      ],
      ["IMAGE_UNSUPPORTED", (d) => write(join(d, "a", "anim.png"), solid(8, 8, 1, 1, 1).gif()), "a/anim.png"],
      ["IMAGE_UNSUPPORTED", (d) => writeFile(join(d, "b", "notes.txt"), "hello"), "b/notes.txt"],
    ];
    for (const [code, bad, file] of cases) {
      const spec = await make(bad);
      const error = await loadDataset(spec, { io }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code, subject: join(spec.slice(7), file) });
      expect((error as Error).message).toContain(join(spec.slice(7), file));
    }
    // without a model every image must have the first one's size
    const spec = await make((d) => write(join(d, "b", "small.png"), solid(7, 8, 3, 2, 1).png()));
    await expect(loadDataset(spec)).rejects.toMatchObject({
      code: "IMAGE_SIZE",
      subject: join(spec.slice(7), "b/small.png"),
    });
    await expect(loadDataset(spec, { io })).resolves.toMatchObject({ numClasses: 2 });
  });

  it("refuses folders that are not classes of the model, empty classes, one class and stray entries", async () => {
    const dir = await tempDir();
    await write(join(dir, "a", "1.png"), solid(8, 8, 1, 2, 3).png());
    await expect(loadDataset(`images:${dir}`)).rejects.toMatchObject({ code: "DATASET_TOO_FEW_CLASSES" });
    await mkdir(join(dir, "b"));
    await expect(loadDataset(`images:${dir}`)).rejects.toMatchObject({
      code: "DATASET_EMPTY",
      subject: join(dir, "b"),
    });
    await write(join(dir, "b", "1.png"), solid(8, 8, 1, 2, 3).png());
    const io = await tmIO(["a", "b"]);
    await expect(loadDataset(`images:${dir}`, { io })).resolves.toMatchObject({ numClasses: 2 });
    await expect(loadDataset(`images:${dir}`, { io: await tmIO(["a", "c"]) })).rejects.toMatchObject({
      code: "DATASET_CLASS_UNKNOWN",
      subject: join(dir, "b"),
    });
    const unnamed = { ...io, classes: { count: 2 } };
    await write(join(dir, "c", "1.png"), solid(8, 8, 1, 2, 3).png());
    await expect(loadDataset(`images:${dir}`, { io: unnamed })).rejects.toMatchObject({
      code: "DATASET_MODEL_MISMATCH",
    });
    const vector: ModelIO = {
      input: {
        kind: "vector",
        features: 2,
        ranges: [
          [0, 1],
          [0, 1],
        ],
      },
      classes: { count: 3 },
    };
    await expect(loadDataset(`images:${dir}`, { io: vector })).rejects.toMatchObject({
      code: "DATASET_MODEL_MISMATCH",
    });
    await mkdir(join(dir, "c", "nested"));
    await expect(loadDataset(`images:${dir}`)).rejects.toMatchObject({
      code: "DATASET_INVALID",
      subject: join(dir, "c", "nested"),
    });
    await writeFile(join(dir, "README"), "class folders");
    await expect(loadDataset(`images:${dir}`)).rejects.toMatchObject({
      code: "DATASET_INVALID",
      subject: join(dir, "README"),
    });
    await expect(loadDataset(`images:${join(dir, "none")}`)).rejects.toMatchObject({ code: "PATH_NOT_FOUND" });
  });
});

describe("unlabeled:<dir>", () => {
  it("walks the folder tree for the model's inputs: no labels, 20% held out", async () => {
    const io = await tmIO();
    const d = await loadDataset(`unlabeled:${TM_IMAGES}`, { io, allowUnlabelled: true });
    expect([d.labelled, d.train.count, d.test.count, d.train.y.length, d.test.y.length]).toEqual([false, 18, 4, 0, 0]);
    const labelled = await loadDataset(`images:${TM_IMAGES}`, { io });
    const sorted = (ds: ImageDataset) => [...images(ds.train, size(ds)), ...images(ds.test, size(ds))].sort();
    expect(sorted(d)).toEqual(sorted(labelled));
    expect(d.test.x[7]).toBe(Math.fround((d.test.pixels[7] as number) / 127 - 1));
  });

  it("needs the model's io, at least one image, and no symlinked folders", async () => {
    const dir = await tempDir();
    const io = await tmIO();
    await expect(loadDataset(`unlabeled:${dir}`, { allowUnlabelled: true })).rejects.toMatchObject({ code: "USAGE" });
    await expect(loadDataset(`unlabeled:${dir}`, { io, allowUnlabelled: true })).rejects.toMatchObject({
      code: "DATASET_EMPTY",
    });
    await write(join(dir, "x", "y", "deep.webp"), solid(5, 9, 10, 10, 10).webp());
    await write(join(dir, "top.png"), solid(9, 5, 10, 10, 10).png());
    const d = await loadDataset(`unlabeled:${dir}`, { io, allowUnlabelled: true });
    expect(d.train.count + d.test.count).toBe(2);
    await symlink(join(dir, "x"), join(dir, "loop"));
    await expect(loadDataset(`unlabeled:${dir}`, { io, allowUnlabelled: true })).rejects.toMatchObject({
      code: "DATASET_INVALID",
      subject: join(dir, "loop"),
    });
  });
});
