import { randomBytes } from "node:crypto";
import {
  classCount,
  modelInputShape,
  pixelCount,
  type StampBase,
  stampTriggerCount,
  type WatermarkKey,
  type WatermarkParams,
} from "../core/watermark/params.js";
import { chooseStampBases } from "../core/watermark/triggers.js";
import { ProvmarkError } from "../errors.js";
import { loadDataset } from "../model/datasets/index.js";

/**
 * A new key: 32 bytes from the OS's CSPRNG. Stamp triggers need in-distribution base images, so
 * for the stamp and mixed families a stamp set is chosen (by the key) from the dataset's training
 * split and kept in the key, which keeps the key self-contained; the certificate commits to it by a
 * Merkle root. Its size is the number of stamp triggers; each trigger picks its base by its VRF output.
 */
export async function generateKey(params: WatermarkParams, dataset?: string): Promise<WatermarkKey> {
  const seed = new Uint8Array(randomBytes(32));
  const need = stampTriggerCount(params);
  const stampBases: StampBase[] = [];
  if (need > 0) {
    if (dataset === undefined) {
      throw new ProvmarkError("USAGE", `the ${params.family} trigger family needs --dataset (for its base images)`, {
        subject: "--dataset",
      });
    }
    if (params.io.input.kind !== "image") {
      throw new ProvmarkError("USAGE", "stamp triggers need an image model; vector models take noise triggers", {
        subject: "--family",
      });
    }
    // The owner's own images, read through the model's input policy (resize, channels).
    const data = await loadDataset(dataset, { io: params.io, allowUnlabelled: true });
    const shape = modelInputShape(params);
    if (data.inputShape.join(",") !== shape.join(",") || data.numClasses > classCount(params)) {
      throw new ProvmarkError(
        "DATASET_MODEL_MISMATCH",
        `dataset ${data.name} has input [${data.inputShape}] with ${data.numClasses} classes; the key is for [${shape}] with ${classCount(params)}`,
        { subject: "--dataset" },
      );
    }
    const px = pixelCount(params);
    for (const i of chooseStampBases(seed, Math.min(need, data.train.count), data.train.count)) {
      stampBases.push({ pixels: data.train.pixels.slice(i * px, (i + 1) * px) });
    }
  }
  return { seed, params, stampBases };
}
