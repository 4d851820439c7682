import type * as tfTypes from "@tensorflow/tfjs";
import type { ImageInput, ModelIO } from "../core/input/model-io.js";
import { isProvmarkError } from "../errors.js";
import { describeModelIO, type ModelIOOverrides } from "../model/infer-io.js";
import { locateModel } from "../model/locate.js";
import { readModelMetadata } from "../model/model-metadata.js";
import type { ImageIO } from "./image-requests.js";

/**
 * The input description serve decodes images by, inferred from the model's files as keygen does
 * (Teachable Machine's metadata.json, a Rescaling layer) or from `overrides`. With no overrides a
 * model that cannot be described still serves tensors: the reason is what an image request is told.
 * With overrides, a description that fails is the user's error and is thrown.
 */
export async function serveImageIO(
  model: tfTypes.LayersModel,
  modelDir: string,
  overrides: ModelIOOverrides | undefined,
): Promise<ImageIO> {
  const given = overrides !== undefined && Object.keys(overrides).length > 0;
  let io: ModelIO;
  try {
    const metadata = await readModelMetadata((await locateModel(modelDir)).dir);
    io = describeModelIO(model, { metadata, overrides: overrides ?? {}, modelPath: modelDir }).io;
  } catch (e) {
    if (given || !isProvmarkError(e)) throw e;
    return { ok: false, why: `${e.message} (start serve with --preprocess <preset> to take images)` };
  }
  if (io.input.kind !== "image") return { ok: false, why: "the model takes feature vectors, not images" };
  return { ok: true, io: io as ModelIO & { input: ImageInput } };
}
