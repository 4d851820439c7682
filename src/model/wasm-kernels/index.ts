import type * as tfTypes from "@tensorflow/tfjs";
import { compareVersions } from "../wasm-threads.js";
import { batchMatMulKernel } from "./batch-mat-mul.js";
import { fusedBatchNormKernel, registerBatchNormGrad } from "./batch-norm.js";
import { vectorBroadcastKernel } from "./broadcast.js";
import { registerClipGrad } from "./clip-grad.js";
import { conv2DBackpropFilterKernel, conv2DBackpropInputKernel } from "./conv2d-backprop.js";
import { depthwiseBackpropFilterKernel, depthwiseBackpropInputKernel } from "./depthwise-backprop.js";
import { castKernel, identityKernel } from "./identity.js";
import { avgPoolGradKernel, maxPoolGradKernel } from "./pool-grad.js";
import { leadingReduceKernel } from "./reduce.js";
import { registerReluGrad } from "./relu-grad.js";
import { sliceKernel } from "./slice.js";
import type { TF } from "./tensor-utils.js";
import { tileKernel } from "./tile.js";

type KernelArgs = Parameters<tfTypes.KernelFunc>[0];

interface GradKernel {
  name: string;
  /** Replaces the wasm backend's own kernel up to this tfjs-backend-wasm version (inclusive), and why. */
  replaces?: { upTo: string; why: string };
  /** The kernel; `upstream` is the wasm backend's own, when it has one. */
  run: (tf: TF, args: KernelArgs, upstream?: tfTypes.KernelFunc) => tfTypes.TensorInfo | tfTypes.TensorInfo[];
}

/**
 * The kernels that training CNNs needs and tfjs-backend-wasm lacks, gets wrong or runs slowly, each
 * composed of kernels the wasm backend runs natively (XNNPACK convolutions, matrix products,
 * elementwise arithmetic; 3-D transposes).
 */
export const WASM_GRAD_KERNELS: readonly GradKernel[] = [
  { name: "Conv2DBackpropFilter", run: conv2DBackpropFilterKernel },
  {
    name: "Conv2DBackpropInput",
    replaces: { upTo: "4.22.0", why: "its direct loop is up to 9x slower than an XNNPACK convolution" },
    run: conv2DBackpropInputKernel,
  },
  { name: "DepthwiseConv2dNativeBackpropFilter", run: depthwiseBackpropFilterKernel },
  { name: "DepthwiseConv2dNativeBackpropInput", run: depthwiseBackpropInputKernel },
  {
    name: "MaxPoolGrad",
    replaces: {
      upTo: "4.22.0",
      why: "it gives no gradient to windows whose maximum is <= 0 and the last, not the first, tied maximum",
    },
    run: maxPoolGradKernel,
  },
  {
    name: "BatchMatMul",
    replaces: {
      upTo: "4.22.0",
      why: "with a transposed operand (every dense layer's gradient) it is 7-12x slower than XNNPACK",
    },
    run: (tf, args, upstream) => {
      if (upstream === undefined) throw new Error("BatchMatMul wraps the wasm backend's own kernel");
      return batchMatMulKernel(tf, upstream, args);
    },
  },
  {
    name: "Tile",
    replaces: {
      upTo: "4.22.0",
      why: "its per-element loop is ~10x slower than a broadcast for the batch-norm gradient's per-channel tiling",
    },
    run: (tf, args, upstream) => {
      if (upstream === undefined) throw new Error("Tile wraps the wasm backend's own kernel");
      return tileKernel(tf, upstream, args);
    },
  },
  ...(["Sum", "Mean"] as const).map(
    (name): GradKernel => ({
      name,
      replaces: {
        upTo: "4.22.0",
        why: "over all axes but the channels (bias and batch-norm gradients) it transposes first, 3-6x slower than a pooling",
      },
      run: (tf, args, upstream) => {
        if (upstream === undefined) throw new Error(`${name} wraps the wasm backend's own kernel`);
        return leadingReduceKernel(tf, name === "Sum" ? "sum" : "mean", upstream, args);
      },
    }),
  ),
  ...(["Add", "Sub", "Multiply", "RealDiv"] as const).map(
    (name): GradKernel => ({
      name,
      replaces: {
        upTo: "4.22.0",
        why: "it broadcasts a short vector over the last axis (a bias add) 2-3x slower than a plain elementwise op",
      },
      run: (tf, args, upstream) => {
        if (upstream === undefined) throw new Error(`${name} wraps the wasm backend's own kernel`);
        return vectorBroadcastKernel(tf, upstream, args);
      },
    }),
  ),
  {
    name: "Identity",
    replaces: { upTo: "4.22.0", why: "it copies every element; sharing the buffer, as the cpu backend does, is free" },
    run: (_tf, args, upstream) => {
      if (upstream === undefined) throw new Error("Identity wraps the wasm backend's own kernel");
      return identityKernel(upstream, args);
    },
  },
  {
    name: "Cast",
    replaces: { upTo: "4.22.0", why: "a cast to the same dtype copies every element" },
    run: (_tf, args, upstream) => {
      if (upstream === undefined) throw new Error("Cast wraps the wasm backend's own kernel");
      return castKernel(upstream, args);
    },
  },
  {
    name: "Slice",
    replaces: {
      upTo: "4.22.0",
      why: "it copies one innermost row at a time from JavaScript; merging whole axes makes the rows long",
    },
    run: (tf, args, upstream) => {
      if (upstream === undefined) throw new Error("Slice wraps the wasm backend's own kernel");
      return sliceKernel(tf, upstream, args);
    },
  },
  {
    name: "FusedBatchNorm",
    replaces: { upTo: "4.22.0", why: "its generic broadcasting loop is 5-10x slower than one per-channel pass" },
    run: (tf, args, upstream) => {
      if (upstream === undefined) throw new Error("FusedBatchNorm wraps the wasm backend's own kernel");
      return fusedBatchNormKernel(tf, upstream, args);
    },
  },
  {
    name: "AvgPoolGrad",
    replaces: { upTo: "4.22.0", why: "its direct loop is 3-5x slower than pads and a transpose" },
    run: avgPoolGradKernel,
  },
];

export interface WasmKernelRegistration {
  /** Kernels the wasm backend lacked, now registered. */
  added: string[];
  /** The wasm backend's own kernels replaced (see WASM_GRAD_KERNELS for why). */
  replaced: string[];
  /** Kernels left as they were: a newer tfjs-backend-wasm registered its own. */
  kept: string[];
}

/**
 * Registers provmark's gradient kernels for the wasm backend: every missing one, and a known-bad
 * upstream one only when tfjs-backend-wasm is not newer than the version it was measured against.
 * Idempotent: a kernel provmark already registered is left alone.
 */
export function registerWasmGradKernels(tf: TF, wasmVersion: string): WasmKernelRegistration {
  const result: WasmKernelRegistration = { added: [], replaced: [], kept: [] };
  for (const k of WASM_GRAD_KERNELS) {
    const existing = tf.getKernel(k.name, "wasm");
    if (existing !== undefined && OURS.has(existing.kernelFunc)) continue;
    if (existing !== undefined) {
      if (k.replaces === undefined || compareVersions(wasmVersion, k.replaces.upTo) > 0) {
        result.kept.push(k.name);
        continue;
      }
      tf.unregisterKernel(k.name, "wasm");
      result.replaced.push(k.name);
    } else {
      result.added.push(k.name);
    }
    const upstream = existing?.kernelFunc;
    const kernelFunc: tfTypes.KernelFunc = (args) => k.run(tf, args, upstream);
    OURS.add(kernelFunc);
    tf.registerKernel({ kernelName: k.name, backendName: "wasm", kernelFunc });
  }
  registerReluGrad(tf);
  registerClipGrad(tf);
  registerBatchNormGrad(tf);
  return result;
}

const OURS = new WeakSet<tfTypes.KernelFunc>();
