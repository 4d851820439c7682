import type * as tfTypes from "@tensorflow/tfjs";
import { makeOutput, nativeKernels, offsetOf } from "./native.js";
import type { TensorInfo, TF } from "./tensor-utils.js";

/** The wasm kernel the ReLU gradient calls: dy * step(x) in one native pass. */
export const RELU_GRAD_KERNEL = "ProvmarkReluGrad";

/**
 * Gives ReLU a gradient that, on the wasm backend with the native kernels, is one pass
 * (native/assembly/elementwise.ts) instead of TF.js's Step, Cast and Multiply kernels (three passes
 * over every activation of the layer); everywhere else it is TF.js's own gradient, called as is.
 * The values are the same: the native pass computes dy * step(x) as TF.js does, NaN included.
 * Idempotent.
 */
export function registerReluGrad(tf: TF): void {
  if (tf.getKernel(RELU_GRAD_KERNEL, "wasm") === undefined) {
    tf.registerKernel({
      kernelName: RELU_GRAD_KERNEL,
      backendName: "wasm",
      kernelFunc: ({ inputs }) => {
        const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
        const native = nativeKernels(tf);
        if (native === undefined) throw new Error(`${RELU_GRAD_KERNEL} needs provmark's native wasm kernels`);
        // The kernel reads dy by x's size: anything else would read outside it.
        if (dy.dtype !== "float32" || x.dtype !== "float32" || dy.shape.join() !== x.shape.join()) {
          throw new Error(`${RELU_GRAD_KERNEL}: dy and x must be float32 of one shape`);
        }
        const out = makeOutput(tf, [...x.shape]);
        native.reluGrad(offsetOf(tf, dy), offsetOf(tf, x), offsetOf(tf, out), sizeOf(x));
        return out;
      },
    });
  }
  if (tf.getGradient(RELU_GRAD_KERNEL) === undefined) {
    // For gradients of gradients: d(dy * step(x))/d(dy) = step(x); step has no gradient but 0.
    tf.registerGradient({
      kernelName: RELU_GRAD_KERNEL,
      inputsToSave: ["x"],
      gradFunc: (ddy, saved) => {
        const [x] = saved as tfTypes.Tensor[];
        return {
          dy: () => tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: ddy as tfTypes.Tensor, x: x as tfTypes.Tensor }),
          x: () => tf.zerosLike(x as tfTypes.Tensor),
        } as unknown as ReturnType<tfTypes.GradFunc>;
      },
    });
  }
  const stock = tf.getGradient("Relu");
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
    return { x: () => tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: single, x }) as tfTypes.Tensor };
  };
  OURS.add(gradFunc);
  tf.registerGradient({ ...stock, gradFunc });
}

const OURS = new WeakSet<tfTypes.GradFunc>();

function sizeOf(t: TensorInfo): number {
  return t.shape.reduce((a, b) => a * b, 1);
}
