// AssemblyScript (not TypeScript): compiled by scripts/build-native.ts; every pointer is the byte
// offset of a float32 tensor of `size` elements in the TensorFlow.js wasm backend's memory.

// One Adam step for one variable, in one pass: the arithmetic of TF.js's AdamOptimizer, operation
// for operation in float32 (so the results are bit-identical to its dozen separate kernels):
//   m' = m * beta1 + g * (1 - beta1)          v' = v * beta2 + g^2 * (1 - beta2)
//   value' = ((m' / (1 - beta1^t)) / (sqrt(v' / (1 - beta2^t)) + epsilon)) * -lr + value
export function adam(
  value: usize, grad: usize, m: usize, v: usize, outValue: usize, outM: usize, outV: usize, size: i32,
  beta1: f32, oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32,
  oneMinusAccBeta1: f32, oneMinusAccBeta2: f32, epsilon: f32, negLr: f32,
): void {
  const b1 = f32x4.splat(beta1);
  const ob1 = f32x4.splat(oneMinusBeta1);
  const b2 = f32x4.splat(beta2);
  const ob2 = f32x4.splat(oneMinusBeta2);
  const oab1 = f32x4.splat(oneMinusAccBeta1);
  const oab2 = f32x4.splat(oneMinusAccBeta2);
  const eps = f32x4.splat(epsilon);
  const nlr = f32x4.splat(negLr);
  const size4 = <usize>(size & ~3) * 4;
  let o: usize = 0;
  for (; o < size4; o += 16) {
    const g = v128.load(grad + o);
    const nm = f32x4.add(f32x4.mul(v128.load(m + o), b1), f32x4.mul(g, ob1));
    const nv = f32x4.add(f32x4.mul(v128.load(v + o), b2), f32x4.mul(f32x4.mul(g, g), ob2));
    const step = f32x4.div(f32x4.div(nm, oab1), f32x4.add(f32x4.sqrt(f32x4.div(nv, oab2)), eps));
    v128.store(outValue + o, f32x4.add(f32x4.mul(step, nlr), v128.load(value + o)));
    v128.store(outM + o, nm);
    v128.store(outV + o, nv);
  }
  const end = <usize>size * 4;
  for (; o < end; o += 4) {
    const g = load<f32>(grad + o);
    const nm: f32 = load<f32>(m + o) * beta1 + g * oneMinusBeta1;
    const nv: f32 = load<f32>(v + o) * beta2 + g * g * oneMinusBeta2;
    const step: f32 = nm / oneMinusAccBeta1 / (sqrt<f32>(nv / oneMinusAccBeta2) + epsilon);
    store<f32>(outValue + o, step * negLr + load<f32>(value + o));
    store<f32>(outM + o, nm);
    store<f32>(outV + o, nv);
  }
}
