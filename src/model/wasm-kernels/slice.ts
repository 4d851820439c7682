import type * as tfTypes from "@tensorflow/tfjs";
import { asTensor, type TensorInfo, type TF } from "./tensor-utils.js";

/**
 * Slice with every axis that is taken whole merged into the axis before it. The wasm backend's
 * Slice copies one innermost row at a time from JavaScript, so cropping [N, H, W, C] to
 * [N, H-1, W-1, C] makes N*(H-1)*(W-1) copies of C values; as [N, H, W*C] it makes N*(H-1) copies of
 * (W-1)*C. Slices with nothing to merge, and strings, go to the wasm backend's kernel unchanged.
 */
export function sliceKernel(
  tf: TF,
  upstream: tfTypes.KernelFunc,
  args: Parameters<tfTypes.KernelFunc>[0],
): TensorInfo | TensorInfo[] {
  const { x } = args.inputs as { x: TensorInfo };
  const attrs = args.attrs as { begin: number | number[]; size: number | number[] };
  const rank = x.shape.length;
  if (x.dtype === "string" || rank < 2 || !Array.isArray(attrs.begin) || !Array.isArray(attrs.size)) {
    return upstream(args);
  }
  const [begin = [], size = []] = tf.slice_util.parseSliceParams(x, attrs.begin, attrs.size);
  const shape = [...x.shape];
  const b = [...begin];
  const s = [...size];
  // Right to left: an axis taken whole folds into the axis before it.
  for (let i = shape.length - 1; i > 0; i--) {
    if (b[i] === 0 && s[i] === shape[i]) {
      const d = shape[i] as number;
      shape.splice(i - 1, 2, (shape[i - 1] as number) * d);
      b.splice(i - 1, 2, (b[i - 1] as number) * d);
      s.splice(i - 1, 2, (s[i - 1] as number) * d);
    }
  }
  if (shape.length === rank) return upstream(args);
  return tf.tidy(() => {
    const out = upstream({ ...args, inputs: { x: asTensor(tf, x).reshape(shape) }, attrs: { begin: b, size: s } });
    return tf
      .engine()
      .makeTensorFromTensorInfo(out as TensorInfo)
      .reshape(size);
  });
}
