import type { ImageInput, ModelIO } from "../../core/input/model-io.js";
import { ProvmarkError } from "../../errors.js";
import { type ImageDataset, imageSplit } from "./dataset.js";
import { decodeFiles, listImages } from "./image-files.js";
import { imageInputOf, type LoadDatasetOptions } from "./load-options.js";
import { stratifiedSplit } from "./split.js";

/**
 * `unlabeled:<dir>`: PNG, JPEG or WebP images anywhere under `dir` (walked recursively in sorted
 * order, hidden entries skipped), so a folder-per-class tree can be used without its labels.
 * Inputs only: `labelled` is false and `y` empty; the embedding takes the original model's own
 * predictions as targets. It needs the model's `io` (the images are decoded for it and the class
 * count comes from it). The held-out split (seeded, 20%) measures agreement with the original.
 */
export async function loadUnlabeledDataset(dir: string, options: LoadDatasetOptions): Promise<ImageDataset> {
  const name = `unlabeled:${dir}`;
  if (options.io === undefined) {
    throw new ProvmarkError("USAGE", `${name} needs the model's input description`, {
      subject: name,
      hints: ["Unlabelled images are read for a model: use them with a command that names the model (--model)."],
    });
  }
  const spec: ImageInput = imageInputOf(options.io, name);
  const io: ModelIO & { input: ImageInput } = { ...options.io, input: spec };
  const files = await listImages(dir, true);
  if (files.length === 0) {
    throw new ProvmarkError("DATASET_EMPTY", `${dir} holds no images`, {
      subject: dir,
      hints: ["Add PNG, JPEG or WebP images (in any sub-folders)."],
    });
  }
  const pixels = await decodeFiles(files, spec, true);
  const split = stratifiedSplit(new Uint8Array(files.length), "unlabeled");
  const none = new Uint16Array(0);
  return {
    kind: "image",
    name,
    io,
    inputShape: [spec.height, spec.width, spec.channels],
    numClasses: io.classes.count,
    labelled: false,
    train: imageSplit(spec, pixels, none, split.train),
    test: imageSplit(spec, pixels, none, split.test),
    splitNote: `${name}: ${files.length} unlabelled images; ${split.note}`,
  };
}
