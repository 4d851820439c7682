import type * as tfTypes from "@tensorflow/tfjs";
import { makeOutput, type NativeKernels, nativeKernels, offsetOf } from "./native.js";
import {
  asTensor,
  cropForPads,
  type Pad,
  pair,
  type Rounding,
  shape4,
  type Tensor4D,
  type TensorInfo,
  type TF,
  zeroInsert,
} from "./tensor-utils.js";

type Conv2DInfo = tfTypes.backend_util.Conv2DInfo;

interface BackpropFilterAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: "NHWC" | "NCHW";
  dimRoundingMode?: Rounding;
  filterShape: [number, number, number, number];
  /** Not part of TF.js's Conv2DBackpropFilter; honoured when present. */
  dilations?: number | [number, number];
}

interface BackpropInputAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: "NHWC" | "NCHW";
  dimRoundingMode?: Rounding;
  inputShape: [number, number, number, number];
  /** Not part of TF.js's Conv2DBackpropInput; honoured when present. */
  dilations?: number | [number, number];
}

/**
 * Conv2DBackpropFilter as one forward convolution that the wasm backend runs with XNNPACK: the
 * batch becomes the channel axis. With x as [inC, H, W, N] and dy as a filter [outH, outW, N, outC],
 *   dW[kh, kw, ci, co] = sum_{n, oh, ow} x_pad[n, oh*sh + kh*dh, ow*sw + kw*dw, ci] * dy[n, oh, ow, co]
 * is conv2d(x^T, dy^T) with strides = the forward dilations and dilations = the forward strides.
 */
export function conv2DBackpropFilterKernel(
  tf: TF,
  args: { inputs: { x?: TensorInfo; dy?: TensorInfo }; attrs?: unknown },
): tfTypes.Tensor {
  const attrs = args.attrs as BackpropFilterAttrs;
  const { x: xInfo, dy: dyInfo } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  return tf.tidy(() => {
    const nchw = attrs.dataFormat === "NCHW";
    const info = tf.backend_util.computeConv2DInfo(
      shape4(xInfo),
      attrs.filterShape,
      attrs.strides,
      pair(attrs.dilations),
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      nchw ? "channelsFirst" : "channelsLast",
    );
    let x = asTensor(tf, xInfo) as Tensor4D;
    let dy = asTensor(tf, dyInfo) as Tensor4D;
    if (nchw) {
      x = tf.transpose(x, [0, 2, 3, 1]);
      dy = tf.transpose(dy, [0, 2, 3, 1]);
    }
    const dw = filterGradNHWC(tf, x, dy, info);
    return dw;
  });
}

/** The filter gradient of a Conv2D, NHWC: native im2col and one product, else as described above. */
function filterGradNHWC(tf: TF, x: Tensor4D, dy: Tensor4D, info: Conv2DInfo): Tensor4D {
  const native = nativeKernels(tf);
  if (native !== undefined && x.dtype === "float32" && x.size > 0) return filterGradIm2col(tf, native, x, dy, info);
  const region = readRegion(tf, x, info);
  if (region === undefined) return tf.zeros([info.filterHeight, info.filterWidth, info.inChannels, info.outChannels]);
  const { x: xr, pad } = region;
  const { filterHeight: kh, filterWidth: kw, inChannels: ci, outChannels: co } = info;
  const k = kh * kw * ci;
  if (k <= IM2COL_MAX_PATCH) {
    // Small patches (the first layer of a CNN): the patches [N*outH*outW, K] by a forward
    // convolution with a one-hot filter, then one matrix product with dy [N*outH*outW, outC].
    const oneHot = tf.eye(k).reshape([kh, kw, ci, k]);
    const patches = tf.engine().runKernel(
      "Conv2D",
      { x: xr, filter: oneHot },
      {
        strides: [info.strideHeight, info.strideWidth],
        pad,
        dataFormat: "NHWC",
        dilations: [info.dilationHeight, info.dilationWidth],
      },
    ) as Tensor4D;
    // XNNPACK repacks the right operand of every product (the costlier part here), so the narrower
    // of patches and dy goes on the right: dW^T = dy^T x patches when K <= outC.
    const p = patches.shape[0] * patches.shape[1] * patches.shape[2];
    const cols = patches.reshape([p, k]);
    const dy2 = dy.reshape([p, co]);
    if (k > co) return tf.matMul(cols, dy2, true, false).reshape([kh, kw, ci, co]);
    return tf.transpose(tf.matMul(dy2, cols, true, false)).reshape([kh, kw, ci, co]);
  }
  const out = tf.engine().runKernel(
    "Conv2D",
    { x: tf.transpose(xr, [3, 1, 2, 0]), filter: tf.transpose(dy, [1, 2, 0, 3]) },
    {
      strides: [info.dilationHeight, info.dilationWidth],
      pad,
      dataFormat: "NHWC",
      dilations: [info.strideHeight, info.strideWidth],
    },
  ) as Tensor4D;
  return tf.transpose(out, [1, 2, 0, 3]);
}

/**
 * dW = patches^T x dy, with the transposed patches [kh*kw*inC, N*outH*outW] written by the native
 * im2colT kernel (one pass, zeros for the padding) and one product with neither operand transposed
 * (BatchMatMul picks the native gemm or XNNPACK): 2-6x faster than the convolution forms below,
 * which repack dy as a filter or need a one-hot convolution and transposes.
 */
function filterGradIm2col(tf: TF, native: NativeKernels, x: Tensor4D, dy: Tensor4D, info: Conv2DInfo): Tensor4D {
  const [n, h, w, c] = x.shape;
  const { filterHeight: kh, filterWidth: kw, outHeight, outWidth, outChannels: co } = info;
  const positions = n * outHeight * outWidth;
  const cols = makeOutput(tf, [kh * kw * c, positions]);
  native.im2colT(
    offsetOf(tf, x),
    offsetOf(tf, cols),
    n,
    h,
    w,
    c,
    outHeight,
    outWidth,
    kh,
    kw,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
  );
  const patches = tf.engine().makeTensorFromTensorInfo(cols) as tfTypes.Tensor2D;
  return tf.matMul(patches, dy.reshape([positions, co])).reshape([kh, kw, c, co]);
}

/**
 * Filter gradients whose patch (filterHeight * filterWidth * inChannels) is at most this long are
 * computed by im2col and one matrix product: 3x faster for a 3x3 filter over one channel (the
 * batch-as-channels convolution repacks all of dy as its filter, and it and its transposes are
 * memory-bound), but slower for long patches (3x3x16), whose patch matrix is large.
 */
const IM2COL_MAX_PATCH = 32;

/**
 * The part of x a forward convolution read, with the padding it used: x cropped to the rows and
 * columns the last window reaches (the rest of the bottom/right padding is unused), so that the
 * batch-as-channels convolution yields exactly filterHeight x filterWidth outputs. Undefined when
 * the windows read padding only.
 */
export function readRegion(tf: TF, x: Tensor4D, info: Conv2DInfo): { x: Tensor4D; pad: Pad } | undefined {
  const [, h, w] = x.shape;
  const { top, left } = info.padInfo;
  const bottom = info.dilationHeight * (info.filterHeight - 1) + info.strideHeight * (info.outHeight - 1) + 1 - h - top;
  const right = info.dilationWidth * (info.filterWidth - 1) + info.strideWidth * (info.outWidth - 1) + 1 - w - left;
  return cropForPads(tf, x, top, bottom, left, right);
}

/**
 * Conv2DBackpropInput as one forward convolution: dy with `stride - 1` zeros inserted between its
 * rows and columns, padded by `effective filter size - 1 - forward pad` (cropped where negative),
 * convolved with the spatially flipped filter whose in/out channel axes are swapped.
 */
export function conv2DBackpropInputKernel(
  tf: TF,
  args: { inputs: { dy?: TensorInfo; filter?: TensorInfo }; attrs?: unknown },
): tfTypes.Tensor {
  const attrs = args.attrs as BackpropInputAttrs;
  const { dy: dyInfo, filter: filterInfo } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  return tf.tidy(() => {
    const nchw = attrs.dataFormat === "NCHW";
    const info = tf.backend_util.computeConv2DInfo(
      attrs.inputShape,
      shape4(filterInfo),
      attrs.strides,
      pair(attrs.dilations),
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      nchw ? "channelsFirst" : "channelsLast",
    );
    let dy = asTensor(tf, dyInfo) as Tensor4D;
    if (nchw) dy = tf.transpose(dy, [0, 2, 3, 1]);
    const flipped = flipFilter(tf, filterInfo);
    const dx = inputGradNHWC(tf, dy, flipped, info, "Conv2D");
    return nchw ? tf.transpose(dx, [0, 3, 1, 2]) : dx;
  });
}

/** The filter [kh, kw, ci, co] flipped spatially with its channel axes swapped, [kh, kw, co, ci]. */
function flipFilter(tf: TF, filterInfo: TensorInfo): Tensor4D {
  const native = nativeKernels(tf);
  const [kh, kw, ci, co] = shape4(filterInfo);
  if (native === undefined || filterInfo.dtype !== "float32") {
    return tf.transpose(tf.reverse(asTensor(tf, filterInfo) as Tensor4D, [0, 1]), [0, 1, 3, 2]);
  }
  // The wasm backend's Reverse is a generic per-element loop: 0.3-0.5 ms for a 3x3x16x32 filter.
  const out = makeOutput(tf, [kh, kw, co, ci]);
  native.flipFilter(offsetOf(tf, filterInfo), offsetOf(tf, out), kh, kw, ci, co);
  return tf.engine().makeTensorFromTensorInfo(out) as Tensor4D;
}

/**
 * The input gradient of a convolution, NHWC, given the already flipped (and, for Conv2D,
 * channel-swapped) filter; `conv` is the forward kernel that runs it.
 */
export function inputGradNHWC(
  tf: TF,
  dy: Tensor4D,
  flipped: Tensor4D,
  info: Conv2DInfo,
  conv: "Conv2D" | "DepthwiseConv2dNative",
): Tensor4D {
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { effectiveFilterHeight: eh, effectiveFilterWidth: ew, inHeight: h, inWidth: w } = info;
  const dyz = zeroInsert(tf, dy, sh, sw);
  const [n, hz, wz] = dyz.shape;
  const top = eh - 1 - info.padInfo.top;
  const left = ew - 1 - info.padInfo.left;
  const bottom = h + eh - 1 - hz - top;
  const right = w + ew - 1 - wz - left;
  const cropped = cropForPads(tf, dyz, top, bottom, left, right);
  if (cropped === undefined) {
    // No window covers an input position (they all lie in the padding).
    return tf.zeros([n, h, w, conv === "Conv2D" ? (flipped.shape[3] as number) : (dy.shape[3] as number)]);
  }
  return tf
    .engine()
    .runKernel(
      conv,
      { x: cropped.x, filter: flipped },
      { strides: [1, 1], pad: cropped.pad, dataFormat: "NHWC", dilations: [dh, dw] },
    ) as Tensor4D;
}
