import type * as tfTypes from "@tensorflow/tfjs";
import { asTensor, type TensorInfo, type TF } from "./tensor-utils.js";

/** Vectors at least this long are broadcast fast enough by the wasm backend itself. */
const WIDE = 256;

/**
 * A float32 elementwise binary op between a tensor [..., C] and a vector over its last axis (a
 * bias add): XNNPACK broadcasts the vector row by row, C elements at a time, 2-3x slower than a
 * plain elementwise op when C is small. Viewing the tensor as [R/m, m*C] and repeating the vector m
 * times (m a divisor of R with m*C >= 256) gives the same result at the plain op's speed. Other
 * operands go to the wasm backend's kernel.
 */
export function vectorBroadcastKernel(
  tf: TF,
  upstream: tfTypes.KernelFunc,
  args: Parameters<tfTypes.KernelFunc>[0],
): TensorInfo | TensorInfo[] {
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  if (a.dtype !== "float32" || b.dtype !== "float32") return upstream(args);
  const aVector = isVectorOver(a, b);
  const big = aVector ? b : a;
  const vec = aVector ? a : b;
  if (!aVector && !isVectorOver(b, a)) return upstream(args);
  const c = big.shape[big.shape.length - 1] as number;
  const rows = big.shape.reduce((x, y) => x * y, 1) / c;
  let m = Math.ceil(WIDE / c);
  while (m <= rows && rows % m !== 0) m++;
  // Small tensors: the extra ops cost more than they save.
  if (c >= WIDE || rows * c < 1 << 14 || m > rows || m > 4 * Math.ceil(WIDE / c)) return upstream(args);
  return tf.tidy(() => {
    const wideBig = asTensor(tf, big).reshape([rows / m, m * c]);
    const wideVec = tf.tile(asTensor(tf, vec).reshape([c]), [m]);
    const inputs = aVector ? { a: wideVec, b: wideBig } : { a: wideBig, b: wideVec };
    const out = upstream({ ...args, inputs }) as TensorInfo;
    return tf.engine().makeTensorFromTensorInfo(out).reshape(big.shape);
  });
}

/** Whether `v` is a vector over the last axis of `t`: shape [C] or [1, ..., 1, C], t of higher rank than 1. */
function isVectorOver(v: TensorInfo, t: TensorInfo): boolean {
  const rank = t.shape.length;
  const c = t.shape[rank - 1];
  if (rank < 2 || v.shape.length > rank || v.shape.length === 0 || c === undefined || c < 1) return false;
  return v.shape[v.shape.length - 1] === c && v.shape.slice(0, -1).every((d) => d === 1);
}
