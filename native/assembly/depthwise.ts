// AssemblyScript (not TypeScript): compiled by scripts/build-native.ts; x, dy and out are byte
// offsets of float32 tensors in the TensorFlow.js wasm backend's memory.

// The filter gradient of a depthwise convolution with channel multiplier 1, NHWC: out [kh, kw, c]
//   out[i, j, ch] = sum over n, oh, ow of x[n, oh*sh + i*dh - padTop, ow*sw + j*dw - padLeft, ch] * dy[n, oh, ow, ch]
// (windows' reads outside x count as 0). Read directly, channels four at a time: the accumulators
// (kh * kw * c floats) stay in L1 while x and dy stream through once per window offset. The
// batch-as-channels depthwise convolution it replaces has a filter as large as dy (XNNPACK packs it
// and runs a 112x112-tap kernel) and two full transposes.
export function depthwiseFilterGrad(
  x: usize, dy: usize, out: usize,
  n: i32, h: i32, w: i32, c: i32, outH: i32, outW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, padTop: i32, padLeft: i32,
): void {
  const pixelBytes = <usize>c * 4;
  const c4 = <usize>(c & ~3) * 4;
  memory.fill(out, 0, <usize>(kh * kw) * pixelBytes);
  let g = dy;
  for (let b = 0; b < n; b++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        for (let i = 0; i < kh; i++) {
          const r = oh * sh + i * dh - padTop;
          if (r < 0 || r >= h) continue;
          const row = x + (<usize>b * <usize>h + <usize>r) * <usize>w * pixelBytes;
          for (let j = 0; j < kw; j++) {
            const q = ow * sw + j * dw - padLeft;
            if (q < 0 || q >= w) continue;
            const xp = row + <usize>q * pixelBytes;
            const op = out + <usize>(i * kw + j) * pixelBytes;
            let ch: usize = 0;
            for (; ch < c4; ch += 16) {
              v128.store(op + ch, f32x4.add(v128.load(op + ch), f32x4.mul(v128.load(xp + ch), v128.load(g + ch))));
            }
            for (; ch < pixelBytes; ch += 4) store<f32>(op + ch, load<f32>(op + ch) + load<f32>(xp + ch) * load<f32>(g + ch));
          }
        }
        g += pixelBytes;
      }
    }
  }
}
