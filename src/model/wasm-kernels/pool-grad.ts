import type * as tfTypes from "@tensorflow/tfjs";
import { asTensor, type Pad, type Rounding, shape4, type Tensor4D, type TensorInfo, type TF } from "./tensor-utils.js";

type Conv2DInfo = tfTypes.backend_util.Conv2DInfo;

interface PoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: Pad;
  dimRoundingMode?: Rounding;
}

/**
 * MaxPoolGrad with TF.js cpu semantics: each window's gradient goes to the first position (row-major
 * within the window) holding the window's maximum; windows whose values are all -Infinity (or lie
 * wholly in the padding) pass no gradient. Built from MaxPool (XNNPACK) over the -Infinity-padded
 * input, elementwise arithmetic and transposes (see maxPoolGradTiled and the general path below).
 */
export function maxPoolGradKernel(
  tf: TF,
  args: { inputs: { dy?: TensorInfo; input?: TensorInfo }; attrs?: unknown },
): tfTypes.Tensor {
  const attrs = args.attrs as PoolGradAttrs;
  const { dy: dyInfo, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  return tf.tidy(() => {
    const info = poolInfo(tf, input, attrs);
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
    const dy = asTensor(tf, dyInfo) as Tensor4D;
    // The rows and columns the windows cover, padded with -Infinity.
    const rows = (info.outHeight - 1) * sh + kh;
    const cols = (info.outWidth - 1) * sw + kw;
    const x = asTensor(tf, input) as Tensor4D;
    const covered = cropOrPad(tf, x, info.padInfo.top, rows, info.padInfo.left, cols, Number.NEGATIVE_INFINITY);
    // The window maxima, recomputed as the cpu backend does: the forward output (the `output`
    // input) is not used, since the wasm MaxPool ignores or mis-sizes some paddings (numeric pads
    // with 1x1 windows, "round"/"ceil" rounding). -Infinity maxima are lifted to -FLT_MAX, so that
    // no -Infinity value (or padding) ever matches them.
    const pooled = tf
      .engine()
      .runKernel("MaxPool", { x: covered }, { filterSize: [kh, kw], strides: [sh, sw], pad: "valid" }) as Tensor4D;
    const y = tf.clipByValue(pooled, -3.4028234663852886e38, Number.POSITIVE_INFINITY);
    if (tiles(info)) return maxPoolGradTiled(tf, covered, y, dy, info);
    // General windows (overlapping, or with gaps): per window offset, in row-major order, the
    // positions holding the maximum that no earlier offset claimed.
    const phases = phasesOf(tf, covered, info);
    let free: tfTypes.Tensor | undefined; // 1 where the window's maximum is not yet assigned
    const picks: tfTypes.Tensor[][] = [];
    for (let i = 0; i < kh; i++) {
      const row: tfTypes.Tensor[] = [];
      for (let j = 0; j < kw; j++) {
        const xk = windowOffset(tf, phases, info, i, j);
        // y >= xk everywhere, so step(y - xk) is 0 exactly where xk is the maximum.
        const isMax = tf.sub(1, tf.step(tf.sub(y, xk)));
        const sel = free === undefined ? isMax : tf.mul(isMax, free);
        if (i < kh - 1 || j < kw - 1) free = free === undefined ? tf.sub(1, isMax) : tf.sub(free, sel);
        row.push(tf.mul(sel, dy));
      }
      picks.push(row);
    }
    return scatterWindows(tf, info, (i, j) => picks[i]?.[j] as Tensor4D);
  });
}

/**
 * AvgPoolGrad with TF.js cpu semantics: dy / (filterHeight * filterWidth) added to every position of
 * its window (padding included in the divisor), scattered by pad/stack/transpose.
 */
export function avgPoolGradKernel(
  tf: TF,
  args: { inputs: { dy?: TensorInfo; input?: TensorInfo }; attrs?: unknown },
): tfTypes.Tensor {
  const attrs = args.attrs as PoolGradAttrs;
  const { dy: dyInfo, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  return tf.tidy(() => {
    const info = poolInfo(tf, input, attrs);
    const k = info.filterHeight * info.filterWidth;
    if (tiles(info)) {
      const g = tf.mul(asTensor(tf, dyInfo).reshape([1, -1]), tf.fill([k, 1], 1 / k));
      return fromOffsetsMajor(tf, g, info);
    }
    const g = tf.mul(asTensor(tf, dyInfo), 1 / k) as Tensor4D;
    return scatterWindows(tf, info, () => g);
  });
}

/** Windows that tile the (padded) input: stride = filter size, the common 2x2/2 pooling. */
function tiles(info: Conv2DInfo): boolean {
  return info.filterHeight === info.strideHeight && info.filterWidth === info.strideWidth;
}

/**
 * MaxPoolGrad for tiling windows on [K, M] tensors (K = window offsets, row-major; M = N*outH*outW*C):
 * E = (x == window max); the number of maxima at offsets <= k, C_k, is an average pooling down the
 * K axis (viewed as the height of a 1-pixel-wide image with M channels, zero-padded on top); the
 * first maximum is where E_k = 1 and C_k = 1. The gradient is that mask times dy.
 */
function maxPoolGradTiled(tf: TF, covered: Tensor4D, y: tfTypes.Tensor, dy: Tensor4D, info: Conv2DInfo): Tensor4D {
  const k = info.filterHeight * info.filterWidth;
  const xs = toOffsetsMajor(tf, covered, info);
  const m = xs.shape[1] as number;
  const isMax = tf.sub(1, tf.step(tf.sub(y.reshape([1, m]), xs)));
  let first = isMax;
  if (k > 1) {
    const padded = tf.pad(isMax.reshape([1, k, 1, m]), [
      [0, 0],
      [k - 1, 0],
      [0, 0],
      [0, 0],
    ]);
    const mean = tf.engine().runKernel("AvgPool", { x: padded }, { filterSize: [k, 1], strides: 1, pad: "valid" });
    // C_k = k * mean is a small integer; C_k <= 1 <=> mean < 1.5 / k (robust to the rounding of 1/k).
    first = tf.mul(isMax, tf.step(tf.sub(1.5 / k, (mean as tfTypes.Tensor).reshape([k, m]))));
  }
  return fromOffsetsMajor(tf, tf.mul(first, dy.reshape([1, m])), info);
}

/**
 * Tiling windows: the covered region [N, outH*kh, outW*kw, C] as [K, M], row k = (i, j) holding
 * offset (i, j) of every window, by two 3-D transposes.
 */
function toOffsetsMajor(tf: TF, covered: Tensor4D, info: Conv2DInfo): tfTypes.Tensor {
  const { batchSize: n, outHeight: oh, outWidth: ow, inChannels: c, filterHeight: kh, filterWidth: kw } = info;
  // [n][oh i][ow j][c] -> [j][n][oh i][ow][c] -> [i][j][n][oh][ow][c]
  const cols = kw === 1 ? covered : tf.transpose(covered.reshape([n * oh * kh * ow, kw, c]), [1, 0, 2]);
  const rows = kh === 1 ? cols : tf.transpose(cols.reshape([kw * n * oh, kh, ow * c]), [1, 0, 2]);
  return rows.reshape([kh * kw, n * oh * ow * c]);
}

/** The inverse of toOffsetsMajor, then cropped or zero-padded back to the input's rows and columns. */
function fromOffsetsMajor(tf: TF, g: tfTypes.Tensor, info: Conv2DInfo): Tensor4D {
  const { batchSize: n, outHeight: oh, outWidth: ow, inChannels: c, filterHeight: kh, filterWidth: kw } = info;
  const rows = kh === 1 ? g : tf.transpose(g.reshape([kh, kw * n * oh, ow * c]), [1, 0, 2]);
  const cols = kw === 1 ? rows : tf.transpose(rows.reshape([kw, n * oh * kh * ow, c]), [1, 0, 2]);
  const canvas = cols.reshape([n, oh * kh, ow * kw, c]) as Tensor4D;
  return cropOrPad(tf, canvas, -info.padInfo.top, info.inHeight, -info.padInfo.left, info.inWidth, 0);
}

function poolInfo(tf: TF, input: TensorInfo, attrs: PoolGradAttrs): Conv2DInfo {
  return tf.backend_util.computePool2DInfo(
    shape4(input),
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
}

/** Blocks of `stride` rows (columns) that one window spans. */
function spans(info: Conv2DInfo): [number, number] {
  return [Math.ceil(info.filterHeight / info.strideHeight), Math.ceil(info.filterWidth / info.strideWidth)];
}

/**
 * The covered region, extended with -Infinity to (outH + qh - 1) * strideH rows and likewise columns
 * (or cropped, where windows leave gaps), split by stride phase: phase (ri, rj) is
 * [N, outH + qh - 1, outW + qw - 1, C] holding covered rows q*sh + ri and columns p*sw + rj. Window
 * (oh, ow)'s offset (i, j) is then element [n, oh + i div sh, ow + j div sw, c] of phase
 * (i mod sh, j mod sw).
 * Only rank <= 4 reshapes, 3-D transposes and contiguous slices: the wasm backend's rank-5+ slice
 * and transpose are slow generic loops.
 */
function phasesOf(tf: TF, covered: Tensor4D, info: Conv2DInfo): Tensor4D[][] {
  const [qh, qw] = spans(info);
  const { batchSize: n, strideHeight: sh, strideWidth: sw, inChannels: c } = info;
  const hq = info.outHeight + qh - 1;
  const wq = info.outWidth + qw - 1;
  const fitted = cropOrPad(tf, covered, 0, hq * sh, 0, wq * sw, Number.NEGATIVE_INFINITY);
  const rows = splitLeading(tf, fitted.reshape([n * hq, sh, wq * sw * c]), sh);
  return rows.map((row) =>
    splitLeading(tf, row.reshape([n * hq * wq, sw, c]), sw).map((p) => p.reshape([n, hq, wq, c]) as Tensor4D),
  );
}

/** [a, k, b] -> k tensors [a, b] (index j = t[:, j, :]) via one 3-D transpose and contiguous slices. */
function splitLeading(tf: TF, t: tfTypes.Tensor, k: number): tfTypes.Tensor[] {
  const [a, , b] = t.shape as [number, number, number];
  if (k === 1) return [t.reshape([a, b])];
  return tf.unstack(tf.transpose(t, [1, 0, 2]));
}

/** The inverse of splitLeading: k tensors [a, b] -> [a, k, b]. */
function joinLeading(tf: TF, parts: tfTypes.Tensor[]): tfTypes.Tensor {
  if (parts.length === 1) {
    const [a, b] = (parts[0] as tfTypes.Tensor).shape as [number, number];
    return (parts[0] as tfTypes.Tensor).reshape([a, 1, b]);
  }
  return tf.transpose(tf.stack(parts), [1, 0, 2]);
}

function windowOffset(tf: TF, phases: Tensor4D[][], info: Conv2DInfo, i: number, j: number): Tensor4D {
  const { batchSize: n, outHeight: oh, outWidth: ow, inChannels: c, strideHeight: sh, strideWidth: sw } = info;
  const phase = phases[i % sh]?.[j % sw] as Tensor4D;
  const qi = Math.floor(i / sh);
  const qj = Math.floor(j / sw);
  if (qi === 0 && qj === 0 && phase.shape[1] === oh && phase.shape[2] === ow) return phase;
  return tf.slice(phase, [0, qi, qj, 0], [n, oh, ow, c]);
}

/**
 * dx[n, oh*sh + i - top, ow*sw + j - left, c] += g(i, j)[n, oh, ow, c] for every window offset (i, j),
 * without scatter loops: the offsets are grouped by stride phase (i mod sh, j mod sw); each phase is
 * a sum of shifted (padded) copies; the phases are interleaved by the inverse of phasesOf.
 */
function scatterWindows(tf: TF, info: Conv2DInfo, g: (i: number, j: number) => Tensor4D): Tensor4D {
  const { batchSize: n, outHeight: oh, outWidth: ow, inChannels: c, strideHeight: sh, strideWidth: sw } = info;
  const [qh, qw] = spans(info);
  const hq = oh + qh - 1;
  const wq = ow + qw - 1;
  const rows: tfTypes.Tensor[] = [];
  for (let ri = 0; ri < sh; ri++) {
    const cols: tfTypes.Tensor[] = [];
    for (let rj = 0; rj < sw; rj++) {
      let sum: tfTypes.Tensor | undefined;
      for (let i = ri; i < info.filterHeight; i += sh) {
        for (let j = rj; j < info.filterWidth; j += sw) {
          const qi = Math.floor(i / sh);
          const qj = Math.floor(j / sw);
          const shifted =
            qh === 1 && qw === 1
              ? g(i, j)
              : tf.pad(g(i, j), [
                  [0, 0],
                  [qi, qh - 1 - qi],
                  [qj, qw - 1 - qj],
                  [0, 0],
                ]);
          sum = sum === undefined ? shifted : tf.add(sum, shifted);
        }
      }
      cols.push((sum ?? tf.zeros([n, hq, wq, c])).reshape([n * hq * wq, c]));
    }
    rows.push(joinLeading(tf, cols).reshape([n * hq, wq * sw * c]));
  }
  const canvas = joinLeading(tf, rows).reshape([n, hq * sh, wq * sw, c]) as Tensor4D;
  // Canvas row r is padded-input row r; drop the padding, add zero rows no window reached.
  return cropOrPad(tf, canvas, -info.padInfo.top, info.inHeight, -info.padInfo.left, info.inWidth, 0);
}

/**
 * Rows [-top, -top + rows) and columns [-left, -left + cols) of x, where rows/columns outside x are
 * `fill`: i.e. x padded by `top`/`left` (cropped where negative) and cut or padded to rows x cols.
 */
function cropOrPad(tf: TF, x: Tensor4D, top: number, rows: number, left: number, cols: number, fill: number): Tensor4D {
  const [n, h, w, c] = x.shape;
  const r0 = Math.max(0, -top);
  const c0 = Math.max(0, -left);
  const r1 = Math.min(h, rows - top);
  const c1 = Math.min(w, cols - left);
  if (r1 <= r0 || c1 <= c0) return tf.fill([n, rows, cols, c], fill) as Tensor4D;
  const inner =
    r0 === 0 && c0 === 0 && r1 === h && c1 === w ? x : tf.slice(x, [0, r0, c0, 0], [n, r1 - r0, c1 - c0, c]);
  const padTop = Math.max(0, top);
  const padLeft = Math.max(0, left);
  const padBottom = rows - padTop - (r1 - r0);
  const padRight = cols - padLeft - (c1 - c0);
  if (padTop === 0 && padLeft === 0 && padBottom === 0 && padRight === 0) return inner;
  return tf.pad(
    inner,
    [
      [0, 0],
      [padTop, padBottom],
      [padLeft, padRight],
      [0, 0],
    ],
    fill,
  );
}
