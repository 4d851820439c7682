import type * as tfTypes from "@tensorflow/tfjs";
import { makeOutput, nativeKernels, offsetOf } from "./native.js";
import { asTensor, type TensorInfo, type TF } from "./tensor-utils.js";

/**
 * BatchMatMul whose transposed operands are transposed first: the wasm backend multiplies with
 * XNNPACK only when neither operand is transposed and falls back to a loop 7-12x slower otherwise,
 * and every dense layer's gradient multiplies by a transposed operand. Then the product itself:
 * see product().
 */
export function batchMatMulKernel(
  tf: TF,
  upstream: tfTypes.KernelFunc,
  args: Parameters<tfTypes.KernelFunc>[0],
): TensorInfo | TensorInfo[] {
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  if (!transposeA && !transposeB) return product(tf, upstream, args, a, b);
  const made: tfTypes.Tensor[] = [];
  const swapLast = (info: TensorInfo, swap: boolean): TensorInfo => {
    if (!swap) return info;
    const t = tf.transpose(asTensor(tf, info), lastTwoSwapped(info.shape.length));
    made.push(t);
    return t;
  };
  try {
    return product(tf, upstream, args, swapLast(a, transposeA), swapLast(b, transposeB));
  } finally {
    tf.dispose(made);
  }
}

/** Right operands already multiplied once: XNNPACK's packed copy of them is cached from then on. */
const seen = new WeakSet<object>();

/**
 * When the native product beats XNNPACK's (packing a new right operand, then two threads), as
 * measured on a 2-core machine (interleaved medians, ms, native / XNNPACK): 9x43264x16 1.3 / 4.0,
 * 144x7744x32 2.7 / 3.3, 64x800x64 0.23 / 0.53, 256x256x256 1.2 / 1.7, but 500x800x64 2.6 / 1.9
 * and 288x7744x64 25 / 11: a short left operand, and a right one that stays in cache while each
 * block of four rows streams it (or very few rows).
 */
export function nativeGemmWins(m: number, k: number, n: number): boolean {
  return m <= 16 || (m <= 256 && k * n * 4 <= 1.5 * 2 ** 20);
}

/**
 * a x b, neither transposed. XNNPACK packs the right operand into its own layout before its first
 * product with it (and caches the packed copy while the tensor lives): for a short left operand
 * (a batch of 64 activations, a filter gradient's 9-256 patch rows) and a right operand used once,
 * which is every product of a training step, the packing can cost more than the product. Those run on the
 * native gemm (native/assembly/gemm.ts), which reads b as it lies; a right operand seen before
 * (inference with fixed weights) goes to XNNPACK, which then reuses its packed copy.
 */
function product(
  tf: TF,
  upstream: tfTypes.KernelFunc,
  args: Parameters<tfTypes.KernelFunc>[0],
  a: TensorInfo,
  b: TensorInfo,
): TensorInfo | TensorInfo[] {
  const native = nativeKernels(tf);
  const [m, k] = a.shape.slice(-2) as [number, number];
  const n = b.shape.at(-1) as number;
  const single = (t: TensorInfo) => t.shape.length >= 2 && t.shape.slice(0, -2).every((d) => d === 1);
  if (
    native === undefined ||
    a.dtype !== "float32" ||
    b.dtype !== "float32" ||
    !single(a) ||
    !single(b) ||
    b.shape.at(-2) !== k ||
    !nativeGemmWins(m, k, n) ||
    m * k * n === 0 ||
    seen.has(b.dataId)
  ) {
    return upstream({ ...args, inputs: { a, b }, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
  }
  seen.add(b.dataId);
  const rank = Math.max(a.shape.length, b.shape.length);
  const out = makeOutput(tf, [...Array<number>(rank - 2).fill(1), m, n]);
  native.gemm(offsetOf(tf, a), offsetOf(tf, b), offsetOf(tf, out), m, k, n);
  return out;
}

function lastTwoSwapped(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 1] = rank - 2;
  perm[rank - 2] = rank - 1;
  return perm;
}
