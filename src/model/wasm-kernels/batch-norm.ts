import type * as tfTypes from "@tensorflow/tfjs";
import { makeOutput, nativeKernels, offsetOf } from "./native.js";
import { asTensor, type TensorInfo, type TF } from "./tensor-utils.js";

/** The wasm kernel FusedBatchNorm's gradient calls: all five gradients in two native passes. */
export const BATCH_NORM_GRAD_KERNEL = "ProvmarkBatchNormGrad";

type Inputs = { x?: TensorInfo; mean?: TensorInfo; variance?: TensorInfo; offset?: TensorInfo; scale?: TensorInfo };

/**
 * Whether the native path applies: float32 throughout, and every per-channel input a vector over
 * x's last axis (what a Keras BatchNormalization on NHWC passes); anything else broadcasts another
 * way and is the wasm backend's (or TF.js's) to do.
 */
function perChannel(tf: TF, x: TensorInfo | undefined, vectors: (TensorInfo | undefined)[]): boolean {
  if (x === undefined || x.dtype !== "float32" || x.shape.length < 2 || nativeKernels(tf) === undefined) return false;
  const c = x.shape.at(-1) as number;
  return vectors.every((v) => v === undefined || (v.dtype === "float32" && v.shape.length === 1 && v.shape[0] === c));
}

const rowsOf = (x: TensorInfo) => x.shape.slice(0, -1).reduce((a, b) => a * b, 1);

/** FusedBatchNorm's forward pass in one native read of x; otherwise the wasm backend's own kernel. */
export function fusedBatchNormKernel(
  tf: TF,
  upstream: tfTypes.KernelFunc,
  args: Parameters<tfTypes.KernelFunc>[0],
): TensorInfo | TensorInfo[] {
  const { x, mean, variance, offset, scale } = args.inputs as Inputs;
  const eps = (args.attrs as { varianceEpsilon?: number } | undefined)?.varianceEpsilon ?? 0.001;
  const native = nativeKernels(tf);
  if (
    native === undefined ||
    mean === undefined ||
    variance === undefined ||
    !perChannel(tf, x, [mean, variance, offset, scale])
  ) {
    return upstream(args);
  }
  const xi = x as TensorInfo;
  const c = xi.shape.at(-1) as number;
  const out = makeOutput(tf, [...xi.shape]);
  tf.tidy(() => {
    // The per-channel factor as TF.js computes it (rsqrt(var + eps) * scale), on c values only.
    let a = tf.rsqrt(tf.add(asTensor(tf, variance), eps));
    if (scale !== undefined) a = tf.mul(a, asTensor(tf, scale));
    const b = offset === undefined ? tf.zeros([c]) : null;
    native.channelAffine(
      offsetOf(tf, xi),
      offsetOf(tf, mean),
      offsetOf(tf, a),
      offsetOf(tf, b ?? (offset as TensorInfo)),
      offsetOf(tf, out),
      rowsOf(xi),
      c,
    );
  });
  return out;
}

/**
 * Gives FusedBatchNorm a gradient that, on the wasm backend with the native kernels, computes its
 * five parts in two passes (native/assembly/batch-norm.ts) instead of TF.js's dozen elementwise
 * kernels and full-size Tile; elsewhere, or for other layouts, TF.js's own gradient, as is. The
 * formulas are TF.js's. Its kernel has no gradient of its own (no second derivatives). Idempotent.
 */
export function registerBatchNormGrad(tf: TF): void {
  if (tf.getKernel(BATCH_NORM_GRAD_KERNEL, "wasm") === undefined) {
    tf.registerKernel({
      kernelName: BATCH_NORM_GRAD_KERNEL,
      backendName: "wasm",
      kernelFunc: ({ inputs, attrs }) => {
        const { x, dy, mean, variance, scale } = inputs as Record<string, TensorInfo>;
        const native = nativeKernels(tf);
        if (native === undefined) throw new Error(`${BATCH_NORM_GRAD_KERNEL} needs provmark's native wasm kernels`);
        if (
          x === undefined ||
          dy === undefined ||
          dy.dtype !== "float32" ||
          dy.shape.join() !== x.shape.join() ||
          !perChannel(tf, x, [mean, variance, scale]) ||
          [mean, variance, scale].includes(undefined)
        ) {
          throw new Error(
            `${BATCH_NORM_GRAD_KERNEL}: x and dy must be float32 of one shape, the rest vectors over its channels`,
          );
        }
        const c = x.shape.at(-1) as number;
        const outs = [makeOutput(tf, [...x.shape]), ...Array.from({ length: 4 }, () => makeOutput(tf, [c]))];
        const p = (t: TensorInfo | undefined) => offsetOf(tf, t as TensorInfo);
        native.batchNormGrad(
          p(x),
          p(dy),
          p(mean),
          p(variance),
          p(scale),
          ...(outs.map(p) as [number, number, number, number, number]),
          rowsOf(x),
          c,
          (attrs as { varianceEpsilon: number }).varianceEpsilon,
        );
        return outs;
      },
    });
  }
  const stock = tf.getGradient("FusedBatchNorm");
  if (stock === undefined || OURS.has(stock.gradFunc)) return;
  const gradFunc: tfTypes.GradFunc = (dy, saved, attrs) => {
    const [x, mean, variance, scale] = saved as (tfTypes.Tensor | undefined)[];
    const g = dy as tfTypes.Tensor;
    const fast =
      tf.getBackend() === "wasm" &&
      scale !== undefined &&
      g.dtype === "float32" &&
      g.shape.join() === x?.shape.join() &&
      perChannel(tf, x, [mean, variance, scale]);
    if (!fast) return stock.gradFunc(dy, saved, attrs);
    // One kernel call gives all five, run now: the tape calls each part in a tidy of its own, which
    // would dispose the parts computed in an earlier call. Parts it never asks for are disposed
    // with the backward pass's scope.
    const grads = tf
      .engine()
      .runKernel(BATCH_NORM_GRAD_KERNEL, { x, dy: g, mean, variance, scale } as never, attrs) as tfTypes.Tensor[];
    const part = (i: number) => () => grads[i] as tfTypes.Tensor;
    return { x: part(0), mean: part(1), variance: part(2), scale: part(3), offset: part(4) };
  };
  OURS.add(gradFunc);
  tf.registerGradient({ ...stock, gradFunc });
}

const OURS = new WeakSet<tfTypes.GradFunc>();
