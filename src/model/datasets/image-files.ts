import type { Dirent } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { type ImageInput, inputSize, PREPROCESS_PRESETS } from "../../core/input/model-io.js";
import { fromFsError, ProvmarkError } from "../../errors.js";
import { decodeImage, probeImage } from "../decode-image.js";

const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg", ".webp"]);
/** Decodes in flight at once: libvips runs each on a worker thread; the machines have few cores. */
const DECODE_CONCURRENCY = 2;

export async function readDir(dir: string): Promise<Dirent[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((e: unknown) => {
    throw fromFsError(e, dir);
  });
  // Code-unit order: the same on every machine and locale.
  return entries.filter((e) => !e.name.startsWith(".")).sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Directory or file, following a symlink (a symlinked directory counts as a directory). */
export async function isDirectory(entry: Dirent, path: string): Promise<boolean> {
  if (!entry.isSymbolicLink()) return entry.isDirectory();
  const s = await stat(path).catch((e: unknown) => {
    throw fromFsError(e, path);
  });
  return s.isDirectory();
}

/** Throws IMAGE_UNSUPPORTED for a file whose name is not .png, .jpg, .jpeg or .webp (any case). */
export function assertImageName(path: string): void {
  if (IMAGE_EXTENSIONS.has(extname(path).toLowerCase())) return;
  throw new ProvmarkError("IMAGE_UNSUPPORTED", `${path} is not a .png, .jpg, .jpeg or .webp file`, {
    subject: path,
    hints: ["Image folders hold PNG, JPEG and WebP images only (hidden files are skipped): convert or move it."],
  });
}

/**
 * The image files of one folder, sorted; hidden entries (a leading dot) are skipped. A sub-folder is
 * an error unless `recursive`, when its images are listed after walking it in the same order.
 */
export async function listImages(dir: string, recursive: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readDir(dir)) {
    const path = join(dir, entry.name);
    if (await isDirectory(entry, path)) {
      if (!recursive) {
        throw new ProvmarkError("DATASET_INVALID", `${path} is a folder inside a class folder`, {
          subject: path,
          hints: ["A class folder holds its images directly: move them up, or remove the folder."],
        });
      }
      if (entry.isSymbolicLink()) {
        throw new ProvmarkError("DATASET_INVALID", `${path} is a symlink to a folder (it could loop)`, {
          subject: path,
          hints: ["Replace the link with the folder itself, or remove it."],
        });
      }
      out.push(...(await listImages(path, true)));
      continue;
    }
    assertImageName(path);
    out.push(path);
  }
  return out;
}

/**
 * The spec an image folder implies when no model is given: the first image's size, RGB, pixel/255.
 * `resize` is recorded as stretch for the model trained on it later; the folder's own images are
 * not resized (they must all have that size).
 */
export async function specFromFirstImage(file: string): Promise<ImageInput> {
  const bytes = await readFile(file).catch((e: unknown) => {
    throw fromFsError(e, file);
  });
  const { width, height } = await probeImage(bytes, file);
  return {
    kind: "image",
    height,
    width,
    channels: 3,
    channelOrder: "rgb",
    preprocess: PREPROCESS_PRESETS["pixel/255"].preprocess,
    resize: { mode: "stretch", filter: "bilinear" },
  };
}

/** Reads and decodes every file for `spec`, back to back (`count × H·W·C` bytes), a few at a time. */
export async function decodeFiles(files: readonly string[], spec: ImageInput, resize: boolean): Promise<Uint8Array> {
  const size = inputSize(spec);
  const pixels = new Uint8Array(files.length * size);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < files.length && !failed) {
      const i = next++;
      const file = files[i] as string;
      try {
        const bytes = await readFile(file).catch((e: unknown) => {
          throw fromFsError(e, file);
        });
        pixels.set(await decodeImage(bytes, spec, file, { resize }), i * size);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DECODE_CONCURRENCY, files.length) }, worker));
  return pixels;
}
