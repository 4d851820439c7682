import type * as tfTypes from "@tensorflow/tfjs";
import { makeOutput, nativeKernels, offsetOf } from "./native.js";
import { asTensor, type TensorInfo, type TF } from "./tensor-utils.js";

/**
 * Sum and Mean over every axis but the last, for float32: the bias and batch-norm gradients'
 * per-channel reductions. The wasm backend transposes the channels to the front first (a slow
 * generic transpose). The native sumRows kernel reads x once, rows in order; without it, an average
 * pooling of the [1, P, 1, C] view over its P rows (XNNPACK) is 3-6x faster than the transpose.
 * Every other reduction goes to the wasm backend's kernel.
 */
export function leadingReduceKernel(
  tf: TF,
  op: "sum" | "mean",
  upstream: tfTypes.KernelFunc,
  args: Parameters<tfTypes.KernelFunc>[0],
): TensorInfo | TensorInfo[] {
  const { x } = args.inputs as { x: TensorInfo };
  const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
  const rank = x.shape.length;
  const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
  const leading = rank >= 2 && axes.length === rank - 1 && axes.every((a, i) => a === i);
  const channels = x.shape[rank - 1] as number;
  const rows = rank === 0 ? 0 : x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (!leading || x.dtype !== "float32" || rows < 2 || channels === 0) return upstream(args);
  const native = nativeKernels(tf);
  if (native !== undefined) {
    const out = makeOutput(tf, keepDims ? [...Array(rank - 1).fill(1), channels] : [channels]);
    native.sumRows(offsetOf(tf, x), offsetOf(tf, out), rows, channels, op === "mean" ? 1 : 0);
    return out;
  }
  return tf.tidy(() => {
    const mean = tf
      .engine()
      .runKernel(
        "AvgPool",
        { x: asTensor(tf, x).reshape([1, rows, 1, channels]) },
        { filterSize: [rows, 1], strides: 1, pad: "valid" },
      ) as tfTypes.Tensor;
    const r = op === "mean" ? mean : tf.mul(mean, rows);
    return r.reshape(keepDims ? [...Array(rank - 1).fill(1), channels] : [channels]);
  });
}
