import type * as tfTypes from "@tensorflow/tfjs";
import { asTensor, type TensorInfo, type TF } from "./tensor-utils.js";

/**
 * BatchMatMul whose transposed operands are transposed first: the wasm backend multiplies with
 * XNNPACK only when neither operand is transposed and falls back to a loop 7-12x slower otherwise,
 * and every dense layer's gradient multiplies by a transposed operand.
 */
export function batchMatMulKernel(
  tf: TF,
  upstream: tfTypes.KernelFunc,
  args: Parameters<tfTypes.KernelFunc>[0],
): TensorInfo | TensorInfo[] {
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  if (!transposeA && !transposeB) return upstream(args);
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const made: tfTypes.Tensor[] = [];
  const swapLast = (info: TensorInfo, swap: boolean): TensorInfo => {
    if (!swap) return info;
    const t = tf.transpose(asTensor(tf, info), lastTwoSwapped(info.shape.length));
    made.push(t);
    return t;
  };
  try {
    return upstream({
      ...args,
      inputs: { a: swapLast(a, transposeA), b: swapLast(b, transposeB) },
      attrs: { ...args.attrs, transposeA: false, transposeB: false },
    });
  } finally {
    tf.dispose(made);
  }
}

function lastTwoSwapped(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 1] = rank - 2;
  perm[rank - 2] = rank - 1;
  return perm;
}
