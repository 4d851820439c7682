import type * as tfTypes from "@tensorflow/tfjs";

export type TF = typeof tfTypes;
export type Tensor = tfTypes.Tensor;
export type Tensor4D = tfTypes.Tensor4D;
export type TensorInfo = tfTypes.TensorInfo;
export type Pad = "valid" | "same" | number | tfTypes.backend_util.ExplicitPadding;
export type Rounding = "floor" | "round" | "ceil" | undefined;
export type Pair = [number, number];

/** Kernel inputs arrive as TensorInfo; ops need Tensors (the engine passes Tensors, direct callers may not). */
export function asTensor(tf: TF, info: TensorInfo): Tensor {
  return info instanceof tf.Tensor ? info : tf.engine().makeTensorFromTensorInfo(info);
}

export function pair(v: number | readonly number[] | undefined, fallback = 1): Pair {
  if (v === undefined) return [fallback, fallback];
  if (typeof v === "number") return [v, v];
  return [v[0] ?? fallback, v[1] ?? v[0] ?? fallback];
}

/** The 4-D shape of a tensor, checked. */
export function shape4(t: TensorInfo): [number, number, number, number] {
  if (t.shape.length !== 4) throw new Error(`expected a rank-4 tensor, got shape [${t.shape.join(", ")}]`);
  return t.shape as [number, number, number, number];
}

/** Explicit NHWC padding for the Conv2D / DepthwiseConv2dNative kernels. */
export function explicitPad(top: number, bottom: number, left: number, right: number): Pad {
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
}

/**
 * Puts `sh-1` zero rows after every row and `sw-1` zero columns after every column of an NHWC
 * tensor (one pad of a 6-D view: no scatter, no loops): [N, H, W, C] -> [N, H*sh, W*sw, C].
 */
export function zeroInsert(tf: TF, x: Tensor4D, sh: number, sw: number): Tensor4D {
  if (sh === 1 && sw === 1) return x;
  const [n, h, w, c] = x.shape;
  const x6 = x.reshape([n, h, 1, w, 1, c]);
  const padded = tf.pad(x6, [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  return padded.reshape([n, h * sh, w * sw, c]);
}

/**
 * Crops (negative amounts) or zero-pads (positive amounts) the rows and columns of an NHWC tensor,
 * returning the crop and the remaining non-negative padding (for a convolution's explicit pads);
 * undefined when nothing of x is left.
 */
export function cropForPads(
  tf: TF,
  x: Tensor4D,
  top: number,
  bottom: number,
  left: number,
  right: number,
): { x: Tensor4D; pad: Pad } | undefined {
  const [n, h, w, c] = x.shape;
  const t0 = Math.max(0, -top);
  const l0 = Math.max(0, -left);
  const hh = h - t0 - Math.max(0, -bottom);
  const ww = w - l0 - Math.max(0, -right);
  if (hh <= 0 || ww <= 0) return undefined;
  const cropped = t0 === 0 && l0 === 0 && hh === h && ww === w ? x : tf.slice(x, [0, t0, l0, 0], [n, hh, ww, c]);
  return {
    x: cropped,
    pad: explicitPad(Math.max(0, top), Math.max(0, bottom), Math.max(0, left), Math.max(0, right)),
  };
}
