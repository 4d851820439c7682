// AssemblyScript (not TypeScript): compiled by scripts/build-native.ts; x and out are byte offsets
// of float32 tensors in the TensorFlow.js wasm backend's memory.

// The convolution patches of an NHWC input, transposed: out is [kh * kw * c, n * outH * outW], row
// (i * kw + j) * c + ci holding, for every output position, the input value its window reads at
// offset (i, j) of channel ci (0 in the padding). As the left operand of one matrix product with
// dy [n * outH * outW, outC] it gives a convolution's filter gradient, with no transposes.
export function im2colT(
  x: usize, out: usize,
  n: i32, h: i32, w: i32, c: i32, outH: i32, outW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, padTop: i32, padLeft: i32,
): void {
  const positions = <usize>n * <usize>outH * <usize>outW;
  const rowBytes = positions * 4;
  const pixelBytes = <usize>c * 4;
  const stepBytes = <usize>sw * pixelBytes;
  for (let j = 0; j < kw; j++) {
    // The output columns whose window reads an in-bounds input column at offset j.
    const q0 = j * dw - padLeft;
    let lo = q0 >= 0 ? 0 : (-q0 + sw - 1) / sw;
    let hi = w - q0 <= 0 ? 0 : (w - q0 + sw - 1) / sw;
    if (hi > outW) hi = outW;
    if (lo > hi) lo = hi;
    for (let i = 0; i < kh; i++) {
      // Four channels at a time when they come in fours: four pixels' channels ci..ci+3 loaded
      // as vectors and transposed into four rows (one 4x4 transpose per four positions).
      const c4 = stepBytes == 4 ? 0 : c & ~3;
      for (let ci = 0; ci < c4; ci += 4) {
        let dst = out + <usize>((i * kw + j) * c + ci) * rowBytes;
        for (let b = 0; b < n; b++) {
          for (let oh = 0; oh < outH; oh++) {
            const r = oh * sh + i * dh - padTop;
            if (r < 0 || r >= h) {
              for (let k: usize = 0; k < 4; k++) memory.fill(dst + k * rowBytes, 0, <usize>outW * 4);
            } else {
              const len = <usize>(hi - lo);
              const len4 = len & ~3;
              let src = x + ((<usize>b * <usize>h + <usize>r) * <usize>w + <usize>(q0 + lo * sw)) * pixelBytes + <usize>ci * 4;
              for (let k: usize = 0; k < 4; k++) {
                const row = dst + k * rowBytes;
                if (lo > 0) memory.fill(row, 0, <usize>lo * 4);
                if (hi < outW) memory.fill(row + <usize>hi * 4, 0, <usize>(outW - hi) * 4);
              }
              let d = dst + <usize>lo * 4;
              let m: usize = 0;
              for (; m < len4; m += 4) {
                const a = v128.load(src);
                const bb = v128.load(src + stepBytes);
                const cc = v128.load(src + 2 * stepBytes);
                const dd = v128.load(src + 3 * stepBytes);
                const t0 = v128.shuffle<i32>(a, bb, 0, 4, 1, 5);
                const t1 = v128.shuffle<i32>(a, bb, 2, 6, 3, 7);
                const t2 = v128.shuffle<i32>(cc, dd, 0, 4, 1, 5);
                const t3 = v128.shuffle<i32>(cc, dd, 2, 6, 3, 7);
                v128.store(d, v128.shuffle<i32>(t0, t2, 0, 1, 4, 5));
                v128.store(d + rowBytes, v128.shuffle<i32>(t0, t2, 2, 3, 6, 7));
                v128.store(d + 2 * rowBytes, v128.shuffle<i32>(t1, t3, 0, 1, 4, 5));
                v128.store(d + 3 * rowBytes, v128.shuffle<i32>(t1, t3, 2, 3, 6, 7));
                src += 4 * stepBytes;
                d += 16;
              }
              for (; m < len; m++) {
                for (let k: usize = 0; k < 4; k++) store<f32>(d + k * rowBytes, load<f32>(src + k * 4));
                src += stepBytes;
                d += 4;
              }
            }
            dst += <usize>outW * 4;
          }
        }
      }
      for (let ci = c4; ci < c; ci++) {
        let dst = out + <usize>((i * kw + j) * c + ci) * rowBytes;
        for (let b = 0; b < n; b++) {
          for (let oh = 0; oh < outH; oh++) {
            const r = oh * sh + i * dh - padTop;
            if (r < 0 || r >= h) {
              memory.fill(dst, 0, <usize>outW * 4);
            } else {
              if (lo > 0) memory.fill(dst, 0, <usize>lo * 4);
              const len = <usize>(hi - lo);
              let src = x + ((<usize>b * <usize>h + <usize>r) * <usize>w + <usize>(q0 + lo * sw)) * pixelBytes + <usize>ci * 4;
              const d0 = dst + <usize>lo * 4;
              if (stepBytes == 4) {
                memory.copy(d0, src, len * 4);
              } else {
                for (let k: usize = 0; k < len; k++) {
                  store<f32>(d0 + k * 4, load<f32>(src));
                  src += stepBytes;
                }
              }
              if (hi < outW) memory.fill(dst + <usize>hi * 4, 0, <usize>(outW - hi) * 4);
            }
            dst += <usize>outW * 4;
          }
        }
      }
    }
  }
}
