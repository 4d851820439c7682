import type * as tfTypes from "@tensorflow/tfjs";
import type { TensorInfo } from "./tensor-utils.js";

interface RefCountingBackend {
  incRef(dataId: tfTypes.DataId): void;
}

/**
 * Identity that shares its input's buffer (one more reference to it), as the cpu backend's does.
 * The wasm backend's own copies every element, and training calls it dozens of times per step
 * (tf.clone in the optimizers and tfjs-layers). Strings go to the wasm backend's kernel.
 */
export function identityKernel(upstream: tfTypes.KernelFunc, args: Parameters<tfTypes.KernelFunc>[0]): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  const backend = args.backend as unknown as Partial<RefCountingBackend>;
  if (x.dtype === "string" || typeof backend.incRef !== "function") return upstream(args) as TensorInfo;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Cast to the input's own dtype shares the buffer like identityKernel; real conversions go upstream. */
export function castKernel(upstream: tfTypes.KernelFunc, args: Parameters<tfTypes.KernelFunc>[0]): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  const { dtype } = args.attrs as { dtype: string };
  if (dtype !== x.dtype) return upstream(args) as TensorInfo;
  return identityKernel(upstream, args);
}
