import { join } from "node:path";
import type { ImageInput, ModelIO } from "../../core/input/model-io.js";
import { ProvmarkError } from "../../errors.js";
import { type ImageDataset, imageSplit } from "./dataset.js";
import { decodeFiles, isDirectory, listImages, readDir, specFromFirstImage } from "./image-files.js";
import { classNamesOf, imageInputOf, type LoadDatasetOptions } from "./load-options.js";
import { stratifiedSplit } from "./split.js";

/**
 * `images:<dir>`: one folder per class, each holding PNG, JPEG or WebP images (hidden files skipped,
 * nothing else allowed). Class indices follow the model's class names (`io.classes.names`, else
 * `classNames`; a folder named otherwise is DATASET_CLASS_UNKNOWN), else the folder names sorted.
 * With `io`, every image is decoded for `io.input` and its resize policy; without, the dataset is RGB
 * pixel/255 at the first image's size and every image must have that size (IMAGE_SIZE otherwise).
 * The split is seeded and stratified (split.ts).
 */
export async function loadImagesDataset(dir: string, options: LoadDatasetOptions): Promise<ImageDataset> {
  const name = `images:${dir}`;
  const folders: string[] = [];
  for (const entry of await readDir(dir)) {
    const path = join(dir, entry.name);
    if (!(await isDirectory(entry, path))) {
      throw new ProvmarkError("DATASET_INVALID", `${path} is a file; ${name} holds one folder per class`, {
        subject: path,
        hints: ["Put each class's images in a folder named for the class, and move other files out."],
      });
    }
    folders.push(entry.name);
  }
  const names = classNamesOf(options) ?? folders;
  const files: string[] = [];
  const labels: number[] = [];
  for (const folder of folders) {
    const label = names.indexOf(folder);
    if (label < 0) {
      throw new ProvmarkError("DATASET_CLASS_UNKNOWN", `${join(dir, folder)} is not named for a class of the model`, {
        subject: join(dir, folder),
        hints: [`Class folders must be named ${names.map((n) => JSON.stringify(n)).join(", ")}.`],
      });
    }
    const images = await listImages(join(dir, folder), false);
    if (images.length === 0) {
      throw new ProvmarkError("DATASET_EMPTY", `${join(dir, folder)} holds no images`, {
        subject: join(dir, folder),
        hints: ["Add PNG, JPEG or WebP images of the class, or remove the folder."],
      });
    }
    files.push(...images);
    for (const _ of images) labels.push(label);
  }
  if (folders.length < 2) {
    throw new ProvmarkError(
      "DATASET_TOO_FEW_CLASSES",
      `${dir} has images of ${folders.length} class(es); 2 or more are needed`,
      {
        subject: dir,
        hints: ["images:<dir> holds one folder per class (e.g. Teachable Machine's training images)."],
      },
    );
  }
  const spec: ImageInput = options.io ? imageInputOf(options.io, name) : await specFromFirstImage(files[0] as string);
  const io: ModelIO & { input: ImageInput } = options.io
    ? { ...options.io, input: spec }
    : { input: spec, classes: { count: names.length, names: [...names] } };
  if (folders.length > io.classes.count) {
    throw new ProvmarkError(
      "DATASET_MODEL_MISMATCH",
      `${dir} has ${folders.length} class folders; the model has ${io.classes.count} classes`,
      { subject: dir, hints: ["Give the model's class names (--class-names) to map folders to its classes."] },
    );
  }
  const pixels = await decodeFiles(files, spec, options.io !== undefined);
  const y = Uint16Array.from(labels);
  const split = stratifiedSplit(y, "images", names);
  return {
    kind: "image",
    name,
    io,
    inputShape: [spec.height, spec.width, spec.channels],
    numClasses: io.classes.count,
    labelled: true,
    train: imageSplit(spec, pixels, y, split.train),
    test: imageSplit(spec, pixels, y, split.test),
    splitNote: `${name}: ${files.length} images in ${folders.length} class folders; ${split.note}`,
  };
}
