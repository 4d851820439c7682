// AssemblyScript (not TypeScript): compiled by scripts/build-native.ts; a, b and c are byte offsets
// of row-major float32 matrices in the TensorFlow.js wasm backend's memory.

// C [m, n] = A [m, k] x B [k, n], reading B as it lies. XNNPACK, which the backend's BatchMatMul
// calls, first packs B into its own layout: for a B used once (every gradient product) that
// packing costs several times the product when k is long. Register blocks of 4 rows x 8 columns
// (8 accumulators: more spill); then 4-row x 4-column, then single rows.
export function gemm(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32): void {
  const aRow = <usize>k * 4;
  const bRow = <usize>n * 4;
  const m4 = m & ~3;
  const n8 = n & ~7;
  const n4 = n & ~3;
  let i = 0;
  for (; i < m4; i += 4) {
    const a0 = a + <usize>i * aRow;
    const a1 = a0 + aRow;
    const a2 = a1 + aRow;
    const a3 = a2 + aRow;
    let j = 0;
    for (; j < n8; j += 8) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
      let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
      let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let bp = b + <usize>j * 4;
      let p0 = a0;
      const end = a0 + aRow;
      while (p0 < end) {
        const b0 = v128.load(bp);
        const b1 = v128.load(bp, 16);
        let x = v128.load32_splat(p0);
        c00 = f32x4.add(c00, f32x4.mul(x, b0)); c01 = f32x4.add(c01, f32x4.mul(x, b1));
        x = v128.load32_splat(p0 + aRow);
        c10 = f32x4.add(c10, f32x4.mul(x, b0)); c11 = f32x4.add(c11, f32x4.mul(x, b1));
        x = v128.load32_splat(p0 + 2 * aRow);
        c20 = f32x4.add(c20, f32x4.mul(x, b0)); c21 = f32x4.add(c21, f32x4.mul(x, b1));
        x = v128.load32_splat(p0 + 3 * aRow);
        c30 = f32x4.add(c30, f32x4.mul(x, b0)); c31 = f32x4.add(c31, f32x4.mul(x, b1));
        bp += bRow;
        p0 += 4;
      }
      const r0 = c + (<usize>i * <usize>n + <usize>j) * 4;
      const r1 = r0 + bRow;
      const r2 = r1 + bRow;
      const r3 = r2 + bRow;
      v128.store(r0, c00); v128.store(r0, c01, 16);
      v128.store(r1, c10); v128.store(r1, c11, 16);
      v128.store(r2, c20); v128.store(r2, c21, 16);
      v128.store(r3, c30); v128.store(r3, c31, 16);
    }
    for (; j < n4; j += 4) {
      let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
      let bp = b + <usize>j * 4;
      for (let p: usize = 0; p < <usize>k; p++) {
        const bv = v128.load(bp);
        c0 = f32x4.add(c0, f32x4.mul(f32x4.splat(load<f32>(a0 + p * 4)), bv));
        c1 = f32x4.add(c1, f32x4.mul(f32x4.splat(load<f32>(a1 + p * 4)), bv));
        c2 = f32x4.add(c2, f32x4.mul(f32x4.splat(load<f32>(a2 + p * 4)), bv));
        c3 = f32x4.add(c3, f32x4.mul(f32x4.splat(load<f32>(a3 + p * 4)), bv));
        bp += bRow;
      }
      const r0 = c + (<usize>i * <usize>n + <usize>j) * 4;
      v128.store(r0, c0);
      v128.store(r0 + bRow, c1);
      v128.store(r0 + 2 * bRow, c2);
      v128.store(r0 + 3 * bRow, c3);
    }
    for (; j < n; j++) {
      for (let r = 0; r < 4; r++) scalarDot(a + <usize>(i + r) * aRow, b + <usize>j * 4, c + (<usize>(i + r) * <usize>n + <usize>j) * 4, k, bRow);
    }
  }
  for (; i < m; i++) {
    const ai = a + <usize>i * aRow;
    let j = 0;
    for (; j < n4; j += 4) {
      let acc = f32x4.splat(0);
      let bp = b + <usize>j * 4;
      for (let p: usize = 0; p < <usize>k; p++) {
        acc = f32x4.add(acc, f32x4.mul(f32x4.splat(load<f32>(ai + p * 4)), v128.load(bp)));
        bp += bRow;
      }
      v128.store(c + (<usize>i * <usize>n + <usize>j) * 4, acc);
    }
    for (; j < n; j++) scalarDot(ai, b + <usize>j * 4, c + (<usize>i * <usize>n + <usize>j) * 4, k, bRow);
  }
}

// @ts-ignore: decorator
@inline function scalarDot(a: usize, b: usize, out: usize, k: i32, bRow: usize): void {
  let acc: f32 = 0;
  for (let p: usize = 0; p < <usize>k; p++) acc += load<f32>(a + p * 4) * load<f32>(b + p * bRow);
  store<f32>(out, acc);
}
