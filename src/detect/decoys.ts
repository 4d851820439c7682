import type { ModelIO } from "../core/input/model-io.js";
import { ProvmarkError } from "../errors.js";

/**
 * Benign decoy inputs: test images of a dataset with the certificate's input shape, so trigger
 * queries hide among ordinary traffic. Default `mnist` for 28×28×1 models; "none" (or a ratio of 0)
 * disables decoys.
 */
export async function loadDecoys(
  spec: string | undefined,
  shape: readonly [number, number, number],
  ratio: number,
  /** The certificate's input model: decoys are read through its resize and channel policy. */
  io?: ModelIO,
): Promise<{ from: string | null; inputs: Uint8Array[] }> {
  const is28 = shape[0] === 28 && shape[1] === 28 && shape[2] === 1;
  const chosen = spec ?? (is28 ? "mnist" : "none");
  if (chosen === "none" || ratio === 0) return { from: null, inputs: [] };
  const { loadDataset } = await import("../model/datasets/index.js");
  const ds = await loadDataset(chosen, io ? { io, allowUnlabelled: true } : {});
  if (ds.inputShape.join(",") !== shape.join(",")) {
    throw new ProvmarkError(
      "DATASET_MODEL_MISMATCH",
      `decoy dataset ${chosen} has inputs ${ds.inputShape.join("×")}, the certificate's model takes ${shape.join("×")}`,
      { subject: "--decoys", hints: ["Name a dataset of the model's domain with --decoys, or --decoys none."] },
    );
  }
  const px = shape[0] * shape[1] * shape[2];
  const inputs: Uint8Array[] = [];
  for (let i = 0; i < ds.test.count; i++) inputs.push(ds.test.pixels.slice(i * px, (i + 1) * px));
  return { from: ds.name, inputs };
}
