import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { idxBytes } from "./idx.js";
import { TM_TRAINING_IMAGES } from "./nested-model.js";

/**
 * The 22 Teachable Machine training frames as an IDX dataset for the gray tiny export: centre-cropped
 * to size × size, gray, class order as the export's labels ("Class 1", "Class 2"); the first `train`
 * frames of each class form the train split, the rest the test split. (Until image datasets land.)
 */
export async function writeTeachableIdx(dir: string, size: number, train = 8): Promise<void> {
  const splits = { train: { x: [] as Buffer[], y: [] as number[] }, t10k: { x: [] as Buffer[], y: [] as number[] } };
  for (const [label, cls] of ["Class 1", "Class 2"].entries()) {
    const files = (await readdir(join(TM_TRAINING_IMAGES, cls))).sort(
      (a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10),
    );
    for (const [i, f] of files.entries()) {
      const gray = await sharp(join(TM_TRAINING_IMAGES, cls, f))
        .removeAlpha()
        .resize(size, size, { fit: "cover" })
        .greyscale()
        .toColourspace("b-w")
        .raw()
        .toBuffer();
      const s = i < train ? splits.train : splits.t10k;
      s.x.push(gray);
      s.y.push(label);
    }
  }
  for (const [prefix, s] of Object.entries(splits)) {
    await writeFile(join(dir, `${prefix}-images-idx3-ubyte`), idxBytes([s.y.length, size, size], Buffer.concat(s.x)));
    await writeFile(join(dir, `${prefix}-labels-idx1-ubyte`), idxBytes([s.y.length], Uint8Array.from(s.y)));
  }
}
