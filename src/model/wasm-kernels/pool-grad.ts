import type * as tfTypes from "@tensorflow/tfjs";
import { makeOutput, nativeKernels, offsetOf } from "./native.js";
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
): tfTypes.Tensor | TensorInfo {
  const attrs = args.attrs as PoolGradAttrs;
  const { dy: dyInfo, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  const native = nativeKernels(tf);
  if (native !== undefined && input.dtype === "float32" && dyInfo.dtype === "float32" && sizeOf(input) > 0) {
    // One pass over the windows in WebAssembly SIMD (native/assembly/pool-grad.ts), 5-15x faster
    // than the composition below, which stays for backends the native module cannot run on.
    const info = poolInfo(tf, input, attrs);
    const [n, h, w, c] = shape4(input);
    const expected = [n, info.outHeight, info.outWidth, c];
    // The kernel addresses dy by these dimensions: a mismatch would read outside it.
    if (dyInfo.shape.join() !== expected.join()) {
      throw new Error(`MaxPoolGrad: dy has shape [${dyInfo.shape.join(", ")}], expected [${expected.join(", ")}]`);
    }
    const dx = makeOutput(tf, [...input.shape]);
    native.maxPoolGrad(
      offsetOf(tf, input),
      offsetOf(tf, dyInfo),
      offsetOf(tf, dx),
      n,
      h,
      w,
      c,
      info.outHeight,
      info.outWidth,
      info.filterHeight,
      info.filterWidth,
      info.strideHeight,
      info.strideWidth,
      info.padInfo.top,
      info.padInfo.left,
    );
    return dx;
  }
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
 * MaxPoolGrad for tiling windows, with no transposes: the covered region [N, outH*kh, outW*kw, C]
 * viewed as [N*outH, kh, outW*kw*C]; the window maxima (and dy) repeated kw times along the columns
 * by one broadcast, [N*outH, 1, outW*kw*C], then broadcast down the kh rows, which XNNPACK does at
 * the speed of a plain elementwise op. Offset (i, j) of a window (k = i*kw + j of K) gets the
 * priority p = (K-1-k)/K; q = p where x is the window maximum, p - 1 (< 0) elsewhere. The maximum
 * of q over the window (a MaxPool) is then exactly the q of the first maximum, and q equals it
 * nowhere else (the priorities differ by about 1/K). Windows with no maximum (all -Infinity) have a
 * negative max, lifted above every q.
 */
function maxPoolGradTiled(tf: TF, covered: Tensor4D, y: tfTypes.Tensor, dy: Tensor4D, info: Conv2DInfo): Tensor4D {
  const { batchSize: n, outHeight: oh, outWidth: ow, inChannels: c, filterHeight: kh, filterWidth: kw } = info;
  const k = kh * kw;
  const line = ow * kw * c;
  // [N, outH, outW, C] -> [N*outH, 1, outW*kw*C]: each value repeated for the kw columns of its window.
  const widen = (t: tfTypes.Tensor): tfTypes.Tensor => {
    const w = kw === 1 ? t : tf.add(t.reshape([n * oh * ow, 1, c]), tf.zeros([1, kw, 1]));
    return w.reshape([n * oh, 1, line]);
  };
  // y >= x everywhere, so step(y - x) is 0 exactly where x is the maximum.
  const notMax = tf.step(tf.sub(widen(y), covered.reshape([n * oh, kh, line])));
  const priorities = new Float32Array(kh * line);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) priorities.fill((k - 1 - (i * kw + j)) / k, i * line + j * c, i * line + (j + 1) * c);
    for (let p = 1; p < ow; p++) priorities.copyWithin(i * line + p * kw * c, i * line, i * line + kw * c);
  }
  const q = tf.sub(tf.tensor(priorities, [1, kh, line]), notMax);
  const best = tf
    .engine()
    .runKernel(
      "MaxPool",
      { x: q.reshape(covered.shape) },
      { filterSize: [kh, kw], strides: [kh, kw], pad: "valid" },
    ) as tfTypes.Tensor;
  // best < 0: no maximum in the window; move the threshold above every q. Otherwise q > best - 1/(2K)
  // holds exactly at the first maximum.
  const threshold = tf.add(best, tf.sub(tf.mul(tf.step(tf.neg(best)), 2), 0.5 / k));
  const first = tf.step(tf.sub(q, widen(threshold)));
  const g = tf.mul(first, widen(dy)).reshape(covered.shape) as Tensor4D;
  return cropOrPad(tf, g, -info.padInfo.top, info.inHeight, -info.padInfo.left, info.inWidth, 0);
}

/**
 * Tiling windows: g [K, M], row k = (i, j) holding offset (i, j) of every window (M = N*outH*outW*C),
 * back to the covered region [N, outH*kh, outW*kw, C] by two 3-D transposes, then cropped or
 * zero-padded to the input's rows and columns.
 */
function fromOffsetsMajor(tf: TF, g: tfTypes.Tensor, info: Conv2DInfo): Tensor4D {
  const { batchSize: n, outHeight: oh, outWidth: ow, inChannels: c, filterHeight: kh, filterWidth: kw } = info;
  const rows = kh === 1 ? g : tf.transpose(g.reshape([kh, kw * n * oh, ow * c]), [1, 0, 2]);
  const cols = kw === 1 ? rows : tf.transpose(rows.reshape([kw, n * oh * kh * ow, c]), [1, 0, 2]);
  const canvas = cols.reshape([n, oh * kh, ow * kw, c]) as Tensor4D;
  return cropOrPad(tf, canvas, -info.padInfo.top, info.inHeight, -info.padInfo.left, info.inWidth, 0);
}

function sizeOf(t: TensorInfo): number {
  return t.shape.reduce((a, b) => a * b, 1);
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
