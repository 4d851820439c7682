import type * as tfTypes from "@tensorflow/tfjs";
import { makeOutput, nativeKernels, offsetOf } from "./native.js";
import type { TensorInfo, TF } from "./tensor-utils.js";

/** The wasm kernel ClipByValue's (ReLU6's) gradient calls: one native pass. */
export const CLIP_GRAD_KERNEL = "ProvmarkClipGrad";

/**
 * Gives ClipByValue (Keras's ReLU with maxValue, MobileNet's ReLU6) a gradient that, on the wasm
 * backend with the native kernels, is one pass instead of TF.js's GreaterEqual, LessEqual,
 * LogicalAnd, ZerosLike and Select (five kernels over every activation, a third of a MobileNetV2
 * step); elsewhere it is TF.js's own, called as is. Same values: dy where lo <= x <= hi, else 0.
 * Idempotent.
 */
export function registerClipGrad(tf: TF): void {
  if (tf.getKernel(CLIP_GRAD_KERNEL, "wasm") === undefined) {
    tf.registerKernel({
      kernelName: CLIP_GRAD_KERNEL,
      backendName: "wasm",
      kernelFunc: ({ inputs, attrs }) => {
        const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
        const { clipValueMin, clipValueMax } = attrs as { clipValueMin: number; clipValueMax: number };
        const native = nativeKernels(tf);
        if (native === undefined) throw new Error(`${CLIP_GRAD_KERNEL} needs provmark's native wasm kernels`);
        // The kernel reads dy by x's size: anything else would read outside it.
        if (dy.dtype !== "float32" || x.dtype !== "float32" || dy.shape.join() !== x.shape.join()) {
          throw new Error(`${CLIP_GRAD_KERNEL}: dy and x must be float32 of one shape`);
        }
        const out = makeOutput(tf, [...x.shape]);
        const size = x.shape.reduce((a, b) => a * b, 1);
        native.clipGrad(offsetOf(tf, dy), offsetOf(tf, x), offsetOf(tf, out), size, clipValueMin, clipValueMax);
        return out;
      },
    });
  }
  if (tf.getGradient(CLIP_GRAD_KERNEL) === undefined) {
    // For gradients of gradients: linear in dy with the same mask; the mask has no gradient.
    tf.registerGradient({
      kernelName: CLIP_GRAD_KERNEL,
      inputsToSave: ["x"],
      gradFunc: (ddy, saved, attrs) => {
        const [x] = saved as tfTypes.Tensor[];
        return {
          dy: () =>
            tf.engine().runKernel(CLIP_GRAD_KERNEL, { dy: ddy as tfTypes.Tensor, x: x as tfTypes.Tensor }, attrs),
          x: () => tf.zerosLike(x as tfTypes.Tensor),
        } as unknown as ReturnType<tfTypes.GradFunc>;
      },
    });
  }
  const stock = tf.getGradient("ClipByValue");
  if (stock === undefined || OURS.has(stock.gradFunc)) return;
  const gradFunc: tfTypes.GradFunc = (dy, saved, attrs) => {
    const [x] = saved as tfTypes.Tensor[];
    const single = dy as tfTypes.Tensor;
    const fast =
      x !== undefined &&
      tf.getBackend() === "wasm" &&
      nativeKernels(tf) !== undefined &&
      x.dtype === "float32" &&
      single.dtype === "float32" &&
      single.shape.join() === x.shape.join();
    if (!fast) return stock.gradFunc(dy, saved, attrs);
    return { x: () => tf.engine().runKernel(CLIP_GRAD_KERNEL, { dy: single, x }, attrs) as tfTypes.Tensor };
  };
  OURS.add(gradFunc);
  tf.registerGradient({ ...stock, gradFunc });
}

const OURS = new WeakSet<tfTypes.GradFunc>();
