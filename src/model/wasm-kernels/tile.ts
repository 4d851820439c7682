import type * as tfTypes from "@tensorflow/tfjs";
import { asTensor, type TensorInfo, type TF } from "./tensor-utils.js";

/**
 * Tile that only repeats size-1 axes (a broadcast: what the batch-norm gradient does with its
 * per-channel statistics) as one broadcasting multiply by ones, which the wasm backend runs with
 * XNNPACK; its own Tile is a per-element loop about 10x slower. Other tilings, and dtypes other than
 * float32 and int32, go to the wasm backend's kernel.
 */
export function tileKernel(
  tf: TF,
  upstream: tfTypes.KernelFunc,
  args: Parameters<tfTypes.KernelFunc>[0],
): TensorInfo | TensorInfo[] {
  const { x } = args.inputs as { x: TensorInfo };
  const { reps } = args.attrs as { reps: number[] };
  const broadcast = reps.every((r, i) => r === 1 || x.shape[i] === 1) && reps.some((r) => r > 1);
  if (!broadcast || (x.dtype !== "float32" && x.dtype !== "int32")) return upstream(args);
  const outShape = x.shape.map((d, i) => d * (reps[i] ?? 1));
  return tf.tidy(() => tf.mul(asTensor(tf, x), tf.ones(outShape, x.dtype)));
}
