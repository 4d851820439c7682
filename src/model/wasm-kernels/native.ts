import type * as tfTypes from "@tensorflow/tfjs";
import { NATIVE_KERNELS_PLAIN, NATIVE_KERNELS_SHARED } from "./generated/native-kernels.js";
import type { TensorInfo, TF } from "./tensor-utils.js";

/**
 * provmark's own WebAssembly SIMD kernels (native/assembly, compiled by scripts/build-native.ts),
 * instantiated on the wasm backend's memory so they read and write its tensors in place. Used for
 * the few gradients that no composition of the backend's kernels computes in one pass.
 */
export interface NativeKernels {
  /** MaxPoolGrad, NHWC float32, into `dx` (zeroed first); see native/assembly/pool-grad.ts. */
  maxPoolGrad(
    x: number,
    dy: number,
    dx: number,
    n: number,
    h: number,
    w: number,
    c: number,
    outH: number,
    outW: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    padTop: number,
    padLeft: number,
  ): void;
  /** dy * step(x), float32, `size` elements; see native/assembly/elementwise.ts. */
  reluGrad(dy: number, x: number, out: number, size: number): void;
  /** out [c] = the sum (mean: average) over the rows of x [rows, c]. */
  sumRows(x: number, out: number, rows: number, c: number, mean: number): void;
  /** filter [kh, kw, ci, co] flipped spatially, channels swapped: out [kh, kw, co, ci]. */
  flipFilter(f: number, out: number, kh: number, kw: number, ci: number, co: number): void;
  /** One Adam step of one variable into outValue, outM, outV; see native/assembly/adam.ts. */
  adam(
    value: number,
    grad: number,
    m: number,
    v: number,
    outValue: number,
    outM: number,
    outV: number,
    size: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    oneMinusAccBeta1: number,
    oneMinusAccBeta2: number,
    epsilon: number,
    negLr: number,
  ): void;
  /** ClipByValue's gradient: dy where lo <= x <= hi, else 0; see native/assembly/elementwise.ts. */
  clipGrad(dy: number, x: number, out: number, size: number, lo: number, hi: number): void;
  /** out = (x - m) * a + b per channel of x [rows, c]; see native/assembly/batch-norm.ts. */
  channelAffine(x: number, m: number, a: number, b: number, out: number, rows: number, c: number): void;
  /** FusedBatchNorm's five gradients from x, dy [rows, c]; see native/assembly/batch-norm.ts. */
  batchNormGrad(
    x: number,
    dy: number,
    mean: number,
    variance: number,
    scale: number,
    dx: number,
    dmean: number,
    dvar: number,
    dscale: number,
    doffset: number,
    rows: number,
    c: number,
    eps: number,
  ): void;
  /** Depthwise (multiplier 1) filter gradient [kh, kw, c] of NHWC x and dy; see native/assembly/depthwise.ts. */
  depthwiseFilterGrad(
    x: number,
    dy: number,
    out: number,
    n: number,
    h: number,
    w: number,
    c: number,
    outH: number,
    outW: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    dh: number,
    dw: number,
    padTop: number,
    padLeft: number,
  ): void;
  /** c [m, n] = a [m, k] x b [k, n], row-major float32; see native/assembly/gemm.ts. */
  gemm(a: number, b: number, c: number, m: number, k: number, n: number): void;
  /**
   * The transposed convolution patches of NHWC float32 `x` into `out` [kh*kw*c, n*outH*outW];
   * see native/assembly/im2col.ts.
   */
  im2colT(
    x: number,
    out: number,
    n: number,
    h: number,
    w: number,
    c: number,
    outH: number,
    outW: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    dh: number,
    dw: number,
    padTop: number,
    padLeft: number,
  ): void;
}

/** The parts of tfjs-backend-wasm's BackendWasm the native kernels need. */
interface WasmBackendInternals {
  wasm?: { wasmMemory?: unknown; asm?: { memory?: unknown } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tfTypes.DataType): TensorInfo;
}

/** The WebAssembly JS API (the project's lib settings declare no DOM or WebAssembly values). */
interface WasmApi {
  Memory: abstract new (...args: never[]) => { buffer: ArrayBufferLike };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const instances = new WeakMap<object, NativeKernels | null>();

/**
 * The native kernels for the active wasm backend, instantiated once per backend instance; undefined
 * when they cannot run on it (no reachable memory, or PROVMARK_WASM_NATIVE=0), so that callers
 * fall back to their composed form.
 */
export function nativeKernels(tf: TF): NativeKernels | undefined {
  if (process.env.PROVMARK_WASM_NATIVE === "0" || tf.getBackend() !== "wasm") return undefined;
  const backend = tf.backend() as unknown as WasmBackendInternals;
  const known = instances.get(backend);
  if (known !== undefined) return known ?? undefined;
  let kernels: NativeKernels | null = null;
  try {
    const memory = backend.wasm?.wasmMemory ?? backend.wasm?.asm?.memory;
    if (memory instanceof WA.Memory) {
      const shared = typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;
      const bytes = Buffer.from(shared ? NATIVE_KERNELS_SHARED : NATIVE_KERNELS_PLAIN, "base64");
      const instance = new WA.Instance(new WA.Module(bytes), { env: { memory } });
      kernels = instance.exports as unknown as NativeKernels;
    }
  } catch {
    // A memory the module cannot import (another build's limits): the composed kernels still work.
    kernels = null;
  }
  instances.set(backend, kernels);
  return kernels ?? undefined;
}

/** The byte offset of a wasm-backend tensor's data in the backend's memory. */
export function offsetOf(tf: TF, t: TensorInfo): number {
  const entry = (tf.backend() as unknown as WasmBackendInternals).dataIdMap.get(t.dataId);
  if (entry === undefined) throw new Error("tensor is not owned by the wasm backend");
  return entry.memoryOffset;
}

/** A new float32 tensor of the wasm backend, its memory allocated but not initialised. */
export function makeOutput(tf: TF, shape: number[]): TensorInfo {
  return (tf.backend() as unknown as WasmBackendInternals).makeOutput(shape, "float32");
}
