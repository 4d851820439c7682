// AssemblyScript (not TypeScript): compiled by scripts/build-native.ts; every pointer is the byte
// offset of a float32 tensor in the TensorFlow.js wasm backend's memory.

// The ReLU gradient dy * step(x) in one pass, as TF.js computes it: step is 1 above 0, 0 at or
// below it, and NaN for NaN, and the product is taken (so 0 * Infinity stays NaN).
export function reluGrad(dy: usize, x: usize, out: usize, size: i32): void {
  const one = f32x4.splat(1);
  const zero = f32x4.splat(0);
  const size4 = <usize>(size & ~3) * 4;
  let o: usize = 0;
  for (; o < size4; o += 16) {
    const xv = v128.load(x + o);
    let s = v128.bitselect(one, zero, f32x4.gt(xv, zero));
    s = v128.bitselect(xv, s, f32x4.ne(xv, xv));
    v128.store(out + o, f32x4.mul(v128.load(dy + o), s));
  }
  const end = <usize>size * 4;
  for (; o < end; o += 4) {
    const xs = load<f32>(x + o);
    const s: f32 = isNaN<f32>(xs) ? xs : xs > 0 ? 1 : 0;
    store<f32>(out + o, load<f32>(dy + o) * s);
  }
}

// out[ch] = the sum (or, with mean, the average) over rows of x [rows, c]: the per-channel reduction
// of bias and batch-norm gradients, rows in order for every channel.
export function sumRows(x: usize, out: usize, rows: i32, c: i32, mean: bool): void {
  const rowBytes = <usize>c * 4;
  const c16 = <usize>(c & ~15) * 4;
  const c4 = <usize>(c & ~3) * 4;
  const div = f32x4.splat(<f32>rows);
  let ch: usize = 0;
  // Sixteen channels per pass over the rows (one 64-byte line of each row), then four, then one.
  for (; ch < c16; ch += 64) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let p = x + ch;
    for (let r = 0; r < rows; r++) {
      a0 = f32x4.add(a0, v128.load(p));
      a1 = f32x4.add(a1, v128.load(p, 16));
      a2 = f32x4.add(a2, v128.load(p, 32));
      a3 = f32x4.add(a3, v128.load(p, 48));
      p += rowBytes;
    }
    if (mean) {
      a0 = f32x4.div(a0, div);
      a1 = f32x4.div(a1, div);
      a2 = f32x4.div(a2, div);
      a3 = f32x4.div(a3, div);
    }
    v128.store(out + ch, a0);
    v128.store(out + ch, a1, 16);
    v128.store(out + ch, a2, 32);
    v128.store(out + ch, a3, 48);
  }
  for (; ch < c4; ch += 16) {
    let acc = f32x4.splat(0);
    let p = x + ch;
    for (let r = 0; r < rows; r++) {
      acc = f32x4.add(acc, v128.load(p));
      p += rowBytes;
    }
    if (mean) acc = f32x4.div(acc, div);
    v128.store(out + ch, acc);
  }
  for (; ch < rowBytes; ch += 4) {
    let acc: f32 = 0;
    let p = x + ch;
    for (let r = 0; r < rows; r++) {
      acc += load<f32>(p);
      p += rowBytes;
    }
    store<f32>(out + ch, mean ? acc / <f32>rows : acc);
  }
}

// A convolution filter [kh, kw, ci, co] flipped in both spatial axes with its channel axes
// swapped, [kh, kw, co, ci]: the filter of the input gradient's convolution.
export function flipFilter(f: usize, out: usize, kh: i32, kw: i32, ci: i32, co: i32): void {
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const src = f + <usize>((i * kw + j) * ci * co) * 4;
      const dst = out + <usize>(((kh - 1 - i) * kw + (kw - 1 - j)) * co * ci) * 4;
      for (let a = 0; a < ci; a++) {
        for (let b = 0; b < co; b++) {
          store<f32>(dst + <usize>(b * ci + a) * 4, load<f32>(src + <usize>(a * co + b) * 4));
        }
      }
    }
  }
}

// ClipByValue's gradient (ReLU6's): dy where lo <= x <= hi, else 0 (NaN x included), as TF.js's
// where(logicalAnd(greaterEqual, lessEqual), dy, zerosLike) computes it in five kernels.
export function clipGrad(dy: usize, x: usize, out: usize, size: i32, lo: f32, hi: f32): void {
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  const size4 = <usize>(size & ~3) * 4;
  let o: usize = 0;
  for (; o < size4; o += 16) {
    const xv = v128.load(x + o);
    v128.store(out + o, v128.and(v128.load(dy + o), v128.and(f32x4.ge(xv, vlo), f32x4.le(xv, vhi))));
  }
  const end = <usize>size * 4;
  for (; o < end; o += 4) {
    const xs = load<f32>(x + o);
    store<f32>(out + o, xs >= lo && xs <= hi ? load<f32>(dy + o) : 0);
  }
}
