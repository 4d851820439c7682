// AssemblyScript (not TypeScript): compiled by scripts/build-native.ts into a wasm module that
// runs on the TensorFlow.js wasm backend's own memory. x, dy and dx are byte offsets of float32
// NHWC tensors in that memory.

// MaxPoolGrad, NHWC float32, TF.js cpu semantics: each window's gradient goes to its first
// (row-major) strictly greatest in-bounds value; windows with no value above -Infinity pass none.
export function maxPoolGrad(
  x: usize, dy: usize, dx: usize,
  n: i32, h: i32, w: i32, c: i32, outH: i32, outW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32,
): void {
  if (sh == kh && sw == kw && padTop == 0 && padLeft == 0 && (c & 3) == 0) {
    maxPoolGradTiled(x, dy, dx, n, h, w, c, outH, outW, kh, kw);
    return;
  }
  memory.fill(dx, 0, <usize>n * <usize>h * <usize>w * <usize>c * 4);
  const c4 = c & ~3;
  const rowBytes = <usize>w * <usize>c * 4;
  for (let b = 0; b < n; b++) {
    const xb = x + <usize>b * <usize>h * rowBytes;
    const dxb = dx + <usize>b * <usize>h * rowBytes;
    for (let oh = 0; oh < outH; oh++) {
      const r0 = oh * sh - padTop;
      const rMin = max(r0, 0);
      const rMax = min(r0 + kh, h);
      for (let ow = 0; ow < outW; ow++) {
        const q0 = ow * sw - padLeft;
        const qMin = max(q0, 0);
        const qMax = min(q0 + kw, w);
        const dyp = dy + ((<usize>b * <usize>outH + <usize>oh) * <usize>outW + <usize>ow) * <usize>c * 4;
        let ch = 0;
        for (; ch < c4; ch += 4) {
          let best = f32x4.splat(-Infinity);
          let pos = i32x4.splat(-1);
          for (let r = rMin; r < rMax; r++) {
            for (let q = qMin; q < qMax; q++) {
              const p = r * w + q;
              const v = v128.load(xb + (<usize>p * <usize>c + <usize>ch) * 4);
              const gt = f32x4.gt(v, best);
              best = v128.bitselect(v, best, gt);
              pos = v128.bitselect(i32x4.splat(p), pos, gt);
            }
          }
          const g = v128.load(dyp + <usize>ch * 4);
          scatter(dxb, i32x4.extract_lane(pos, 0), c, ch, f32x4.extract_lane(g, 0));
          scatter(dxb, i32x4.extract_lane(pos, 1), c, ch + 1, f32x4.extract_lane(g, 1));
          scatter(dxb, i32x4.extract_lane(pos, 2), c, ch + 2, f32x4.extract_lane(g, 2));
          scatter(dxb, i32x4.extract_lane(pos, 3), c, ch + 3, f32x4.extract_lane(g, 3));
        }
        for (; ch < c; ch++) {
          let best: f32 = -Infinity;
          let pos = -1;
          for (let r = rMin; r < rMax; r++) {
            for (let q = qMin; q < qMax; q++) {
              const p = r * w + q;
              const v = load<f32>(xb + (<usize>p * <usize>c + <usize>ch) * 4);
              if (v > best) { best = v; pos = p; }
            }
          }
          scatter(dxb, pos, c, ch, load<f32>(dyp + <usize>ch * 4));
        }
      }
    }
  }
}

// @ts-ignore: decorator
@inline function scatter(dxb: usize, pos: i32, c: i32, ch: i32, g: f32): void {
  if (pos < 0) return;
  const a = dxb + (<usize>pos * <usize>c + <usize>ch) * 4;
  store<f32>(a, load<f32>(a) + g);
}

// Windows that tile the input (stride = window, no padding; channels in fours): every position
// lies in one window at most, so each is written once, dy or 0, with no zero fill beforehand and
// no read-modify-write; only the rows and columns no window covers are filled.
function maxPoolGradTiled(
  x: usize, dy: usize, dx: usize,
  n: i32, h: i32, w: i32, c: i32, outH: i32, outW: i32, kh: i32, kw: i32,
): void {
  const pixelBytes = <usize>c * 4;
  const rowBytes = <usize>w * pixelBytes;
  const coveredRows = min(outH * kh, h);
  const coveredCols = min(outW * kw, w);
  const zero = f32x4.splat(0);
  for (let b = 0; b < n; b++) {
    const xb = x + <usize>b * <usize>h * rowBytes;
    const dxb = dx + <usize>b * <usize>h * rowBytes;
    for (let oh = 0; oh < outH; oh++) {
      const r0 = oh * kh;
      const r1 = min(r0 + kh, h);
      for (let ow = 0; ow < outW; ow++) {
        const q0 = ow * kw;
        const q1 = min(q0 + kw, w);
        const dyp = dy + ((<usize>b * <usize>outH + <usize>oh) * <usize>outW + <usize>ow) * pixelBytes;
        for (let ch = 0; ch < c; ch += 4) {
          let best = f32x4.splat(-Infinity);
          let pos = i32x4.splat(-1);
          for (let r = r0; r < r1; r++) {
            for (let q = q0; q < q1; q++) {
              const p = r * w + q;
              const v = v128.load(xb + <usize>p * pixelBytes + <usize>ch * 4);
              const gt = f32x4.gt(v, best);
              best = v128.bitselect(v, best, gt);
              pos = v128.bitselect(i32x4.splat(p), pos, gt);
            }
          }
          const g = v128.load(dyp + <usize>ch * 4);
          for (let r = r0; r < r1; r++) {
            for (let q = q0; q < q1; q++) {
              const p = r * w + q;
              v128.store(dxb + <usize>p * pixelBytes + <usize>ch * 4, v128.bitselect(g, zero, i32x4.eq(pos, i32x4.splat(p))));
            }
          }
        }
      }
      if (coveredCols < w) {
        for (let r = r0; r < min(r0 + kh, h); r++) {
          memory.fill(dxb + <usize>r * rowBytes + <usize>coveredCols * pixelBytes, 0, <usize>(w - coveredCols) * pixelBytes);
        }
      }
    }
    if (coveredRows < h) memory.fill(dxb + <usize>coveredRows * rowBytes, 0, <usize>(h - coveredRows) * rowBytes);
  }
}
