import type * as tfTypes from "@tensorflow/tfjs";
import { ProvmarkError } from "../errors.js";
import type { TF } from "../model/backend.js";
import type { loadDataset } from "../model/datasets/index.js";
import type { ThiefPool } from "./extract-pool.js";
import type { ApiQuerier } from "./extract-query.js";

const shapeSize = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function predictLabels(tf: TF, model: tfTypes.LayersModel, x: Float32Array, n: number, shape: readonly number[]) {
  const out = new Int32Array(n);
  const px = shapeSize(shape);
  for (let s = 0; s < n; s += 500) {
    const m = Math.min(500, n - s);
    const p = tf.tidy(() =>
      (model.predict(tf.tensor(x.subarray(s * px, (s + m) * px), [m, ...shape])) as tfTypes.Tensor)
        .argMax(-1)
        .dataSync(),
    );
    out.set(p, s);
  }
  return out;
}

function inputsOf(pixels: Uint8Array, n: number, px: number, toInput: (p: Uint8Array) => Float32Array) {
  const x = new Float32Array(n * px);
  for (let i = 0; i < n; i++) x.set(toInput(pixels.subarray(i * px, (i + 1) * px)), i * px);
  return x;
}

/** Sends `n` held-out images and compares the surrogate's top-1 with the API's. */
export async function measureAgreement(
  tf: TF,
  model: tfTypes.LayersModel,
  pool: ThiefPool,
  n: number,
  querier: ApiQuerier,
  shape: readonly [number, number, number],
  toInput: (p: Uint8Array) => Float32Array,
): Promise<{ agreement: number | null; agreementCount: number }> {
  if (n === 0) return { agreement: null, agreementCount: 0 };
  const px = shapeSize(shape);
  const images = Array.from({ length: n }, (_, i) => pool.heldOut.subarray(i * px, (i + 1) * px));
  const answers = await querier.ask(images, shape);
  const mine = predictLabels(tf, model, inputsOf(pool.heldOut, n, px, toInput), n, shape);
  let same = 0;
  let count = 0;
  for (const [i, a] of answers.entries()) {
    if (a === null) continue;
    count++;
    if (a.label === mine[i]) same++;
  }
  return { agreement: count === 0 ? null : same / count, agreementCount: count };
}

/** Top-1 accuracy on the held-out part (same dataset) or on another dataset's test split. */
export function evalAccuracy(
  tf: TF,
  model: tfTypes.LayersModel,
  pool: ThiefPool,
  other: Awaited<ReturnType<typeof loadDataset>> | undefined,
  spec: string | undefined,
  toInput: (p: Uint8Array) => Float32Array,
  shape: readonly [number, number, number],
): number | null {
  if (spec === undefined) return null;
  const px = shapeSize(shape);
  if (other === undefined) {
    if (pool.heldOutLabels.length === 0) {
      throw new ProvmarkError("DATASET_UNLABELLED", `${spec} has no labels to measure accuracy on`, {
        subject: "--eval",
      });
    }
    const pred = predictLabels(
      tf,
      model,
      inputsOf(pool.heldOut, pool.heldOutCount, px, toInput),
      pool.heldOutCount,
      shape,
    );
    let ok = 0;
    for (let i = 0; i < pool.heldOutCount; i++) if (pred[i] === pool.heldOutLabels[i]) ok++;
    return ok / pool.heldOutCount;
  }
  const pred = predictLabels(tf, model, other.test.x, other.test.count, shape);
  let ok = 0;
  for (let i = 0; i < other.test.count; i++) if (pred[i] === other.test.y[i]) ok++;
  return other.test.count === 0 ? null : ok / other.test.count;
}
