// AssemblyScript (not TypeScript): compiled by scripts/build-native.ts; every pointer is the byte
// offset of a float32 tensor in the TensorFlow.js wasm backend's memory. x and dy are [rows, c]
// (NHWC with the batch and spatial axes merged); the per-channel vectors are [c].

// out = (x - m) * a + b per channel: a batch norm's forward pass with m its mean, a = scale /
// sqrt(var + eps) precomputed and b its offset, in one read of x (the wasm backend's own kernel is
// a generic broadcasting loop). x - m first, not x * a - m * a, so a large mean cancels exactly.
export function channelAffine(x: usize, m: usize, a: usize, b: usize, out: usize, rows: i32, c: i32): void {
  const rowBytes = <usize>c * 4;
  const c4 = <usize>(c & ~3) * 4;
  let p: usize = 0;
  for (let r = 0; r < rows; r++) {
    let ch: usize = 0;
    for (; ch < c4; ch += 16) {
      const d = f32x4.sub(v128.load(x + p + ch), v128.load(m + ch));
      v128.store(out + p + ch, f32x4.add(f32x4.mul(d, v128.load(a + ch)), v128.load(b + ch)));
    }
    for (; ch < rowBytes; ch += 4) {
      store<f32>(out + p + ch, (load<f32>(x + p + ch) - load<f32>(m + ch)) * load<f32>(a + ch) + load<f32>(b + ch));
    }
    p += rowBytes;
  }
}

// The gradients of FusedBatchNorm (x, mean, variance, scale; offset's is sum(dy)) as TF.js's own
// gradient defines them, in two passes over x and dy instead of about a dozen elementwise kernels
// and a full-size Tile. With rstd = 1 / sqrt(var + eps):
//   dx = dy * scale * rstd, dmean = -scale * rstd * sum(dy),
//   dvar = -0.5 * scale * rstd^3 * sum(dy * (x - mean)), dscale = rstd * sum(dy * (x - mean)).
// The sums accumulate in doffset and dscale (rows in order, so they stay in L1); dmean holds
// scale * rstd while dx is written.
export function batchNormGrad(
  x: usize, dy: usize, mean: usize, variance: usize, scale: usize,
  dx: usize, dmean: usize, dvar: usize, dscale: usize, doffset: usize,
  rows: i32, c: i32, eps: f32,
): void {
  const rowBytes = <usize>c * 4;
  const c4 = <usize>(c & ~3) * 4;
  memory.fill(dscale, 0, rowBytes);
  memory.fill(doffset, 0, rowBytes);
  let p: usize = 0;
  for (let r = 0; r < rows; r++) {
    let ch: usize = 0;
    for (; ch < c4; ch += 16) {
      const g = v128.load(dy + p + ch);
      const d = f32x4.sub(v128.load(x + p + ch), v128.load(mean + ch));
      v128.store(doffset + ch, f32x4.add(v128.load(doffset + ch), g));
      v128.store(dscale + ch, f32x4.add(v128.load(dscale + ch), f32x4.mul(g, d)));
    }
    for (; ch < rowBytes; ch += 4) {
      const g = load<f32>(dy + p + ch);
      store<f32>(doffset + ch, load<f32>(doffset + ch) + g);
      store<f32>(dscale + ch, load<f32>(dscale + ch) + g * (load<f32>(x + p + ch) - load<f32>(mean + ch)));
    }
    p += rowBytes;
  }
  for (let ch: usize = 0; ch < rowBytes; ch += 4) {
    const rstd: f32 = 1 / Mathf.sqrt(load<f32>(variance + ch) + eps);
    const s = load<f32>(scale + ch);
    const sumDyD = load<f32>(dscale + ch);
    store<f32>(dvar + ch, rstd * rstd * rstd * <f32>-0.5 * sumDyD * s);
    store<f32>(dscale + ch, sumDyD * rstd);
    store<f32>(dmean + ch, s * rstd);
  }
  p = 0;
  for (let r = 0; r < rows; r++) {
    let ch: usize = 0;
    for (; ch < c4; ch += 16) v128.store(dx + p + ch, f32x4.mul(v128.load(dy + p + ch), v128.load(dmean + ch)));
    for (; ch < rowBytes; ch += 4) store<f32>(dx + p + ch, load<f32>(dy + p + ch) * load<f32>(dmean + ch));
    p += rowBytes;
  }
  for (let ch: usize = 0; ch < rowBytes; ch += 4) store<f32>(dmean + ch, -load<f32>(dmean + ch) * load<f32>(doffset + ch));
}
