import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRng, type Rng } from "../../src/core/rng.js";
import { loadTf, type TF } from "../../src/model/backend.js";
import { registerWasmGradKernels, WASM_GRAD_KERNELS } from "../../src/model/wasm-kernels/index.js";
import { nativeKernels } from "../../src/model/wasm-kernels/native.js";

type Tensor = import("@tensorflow/tfjs").Tensor;
type Pad = "valid" | "same" | number | [[0, 0], [number, number], [number, number], [0, 0]];
type Attrs = Record<string, unknown>;
interface Input {
  data: Float32Array;
  shape: number[];
}

let tf: TF;

beforeAll(async () => {
  tf = (await loadTf("wasm")).tf;
});

afterAll(async () => {
  await tf.setBackend("wasm");
});

/** max |a - b| <= 1e-4 * max(1, max |reference|), with the numbers in the message on failure. */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length, what).toBe(want.length);
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs((got[i] as number) - (want[i] as number)));
    scale = Math.max(scale, Math.abs(want[i] as number));
  }
  expect(diff / scale, `${what}: max |diff| ${diff} at scale ${scale}`).toBeLessThanOrEqual(1e-4);
}

function random(rng: Rng, shape: number[], ints = false): Input {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: size }, () => (ints ? rng.int(3) : rng.next() * 2 - 1));
  return { data, shape };
}

/** Runs `kernel` on a backend from the same host data, returning its output's values. */
async function runOn(
  backend: "cpu" | "wasm",
  kernel: string,
  inputs: Record<string, Input>,
  attrs: Attrs,
  prepare?: (t: Record<string, Tensor>) => Record<string, Tensor>,
): Promise<Float32Array> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    let t: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(inputs)) t[k] = tf.tensor(v.data, v.shape);
    if (prepare) t = prepare(t);
    return (tf.engine().runKernel(kernel, t, attrs as never) as Tensor).dataSync() as Float32Array;
  });
}

/** The kernels with provmark's native WebAssembly kernels, and their composed fallbacks without. */
const MODES = ["native", "composed"] as const;

async function withNative(mode: (typeof MODES)[number], run: () => Promise<void>): Promise<void> {
  const saved = process.env.PROVMARK_WASM_NATIVE;
  if (mode === "native") delete process.env.PROVMARK_WASM_NATIVE;
  else process.env.PROVMARK_WASM_NATIVE = "0";
  try {
    await run();
  } finally {
    if (saved === undefined) delete process.env.PROVMARK_WASM_NATIVE;
    else process.env.PROVMARK_WASM_NATIVE = saved;
  }
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)] as T;

/**
 * A random padding. TF.js 4.22 sizes numeric pads from the filter height and stride height alone
 * (conv_util computeOutputShape2D), so a numeric pad is only meaningful with square filters and
 * strides: callers square them when `pad` is a number.
 */
function randomPad(rng: Rng): { pad: Pad; dimRoundingMode?: "floor" | "round" | "ceil" } {
  const kind = rng.int(4);
  if (kind === 0) return { pad: "valid" };
  if (kind === 1) return { pad: "same" };
  if (kind === 2) return { pad: rng.int(3), dimRoundingMode: pick(rng, ["floor", "round", "ceil"] as const) };
  return {
    pad: [
      [0, 0],
      [rng.int(4), rng.int(4)],
      [rng.int(4), rng.int(4)],
      [0, 0],
    ],
  };
}

interface ConvCase {
  n: number;
  h: number;
  w: number;
  inC: number;
  outC: number;
  fh: number;
  fw: number;
  strides: [number, number];
  dilations: [number, number];
  pad: Pad;
  dimRoundingMode?: "floor" | "round" | "ceil";
  outH: number;
  outW: number;
}

/** A random convolution geometry whose output is non-empty (retrying until it is). */
function randomConv(rng: Rng, depthwise: boolean, dilation: boolean): ConvCase {
  for (;;) {
    const { pad, dimRoundingMode } = randomPad(rng);
    const square = typeof pad === "number";
    const fh = 1 + rng.int(5);
    const fw = square ? fh : 1 + rng.int(5);
    const sh = 1 + rng.int(3);
    const strides: [number, number] = [sh, square ? sh : 1 + rng.int(3)];
    const dh = dilation ? 1 + rng.int(2) : 1;
    const dilations: [number, number] = [dh, dilation && !square ? 1 + rng.int(2) : dh];
    const c = {
      n: 1 + rng.int(3),
      h: 1 + rng.int(10),
      w: 1 + rng.int(10),
      inC: 1 + rng.int(4),
      outC: 1 + rng.int(depthwise ? 3 : 4),
      fh,
      fw,
      strides,
      dilations,
      pad,
    };
    try {
      const info = tf.backend_util.computeConv2DInfo(
        [c.n, c.h, c.w, c.inC],
        [fh, fw, c.inC, c.outC],
        strides,
        dilations,
        pad,
        dimRoundingMode,
        depthwise,
      );
      if (info.outHeight > 0 && info.outWidth > 0) {
        return { ...c, ...(dimRoundingMode ? { dimRoundingMode } : {}), outH: info.outHeight, outW: info.outWidth };
      }
    } catch {
      // e.g. a rounding mode TF.js rejects for this geometry: draw again
    }
  }
}

/** A filter with (d - 1) zeros between taps: conv(x, w, dilation d) = conv(x, dilate(w), dilation 1). */
function dilateFilter(t: Tensor, [dh, dw]: [number, number]): Tensor {
  const [fh, fw, a, b] = t.shape as [number, number, number, number];
  const z = tf.pad(t.reshape([fh, 1, fw, 1, a, b]), [
    [0, 0],
    [0, dh - 1],
    [0, 0],
    [0, dw - 1],
    [0, 0],
    [0, 0],
  ]);
  return z.reshape([fh * dh, fw * dw, a, b]).slice([0, 0, 0, 0], [(fh - 1) * dh + 1, (fw - 1) * dw + 1, a, b]);
}

/** The taps of a dilated filter's gradient that belong to the undilated filter. */
function undilate(values: Float32Array, c: ConvCase, inner: number): Float32Array {
  const [dh, dw] = c.dilations;
  const ew = (c.fw - 1) * dw + 1;
  const out = new Float32Array(c.fh * c.fw * inner);
  for (let i = 0; i < c.fh; i++) {
    for (let j = 0; j < c.fw; j++) {
      const from = (i * dh * ew + j * dw) * inner;
      out.set(values.subarray(from, from + inner), (i * c.fw + j) * inner);
    }
  }
  return out;
}

describe("wasm gradient kernels", () => {
  // The engine then checks every kernel call for leaked backend buffers. (Not for whole models:
  // TF.js's own fused ops trip it.)
  beforeAll(() => {
    tf.env().set("IS_TEST", true);
  });
  afterAll(() => {
    tf.env().set("IS_TEST", false);
  });

  it("are registered when the wasm backend loads, once", () => {
    for (const k of WASM_GRAD_KERNELS) expect(tf.getKernel(k.name, "wasm"), k.name).toBeDefined();
    expect(registerWasmGradKernels(tf, "4.22.0")).toEqual({ added: [], replaced: [], kept: [] });
  });

  it.each(MODES)(
    "Conv2DBackpropFilter (%s) and Conv2DBackpropInput match the cpu backend (NHWC and NCHW)",
    async (mode) =>
      withNative(mode, async () => {
        const rng = createRng(1, "conv2d");
        for (let i = 0; i < 60; i++) {
          const c = randomConv(rng, false, false);
          const nchw = i % 5 === 4;
          const to = (s: number[]) => (nchw ? [s[0], s[3], s[1], s[2]] : s) as number[];
          const base = {
            strides: c.strides,
            pad: nchw && Array.isArray(c.pad) ? [c.pad[0], c.pad[3], c.pad[1], c.pad[2]] : c.pad,
            dataFormat: nchw ? "NCHW" : "NHWC",
            ...(c.dimRoundingMode ? { dimRoundingMode: c.dimRoundingMode } : {}),
          };
          const x = random(rng, to([c.n, c.h, c.w, c.inC]));
          const dy = random(rng, to([c.n, c.outH, c.outW, c.outC]));
          const filter = random(rng, [c.fh, c.fw, c.inC, c.outC]);
          const what = `case ${i} ${JSON.stringify(c)} ${base.dataFormat}`;
          const fAttrs = { ...base, filterShape: [c.fh, c.fw, c.inC, c.outC] };
          expectClose(
            await runOn("wasm", "Conv2DBackpropFilter", { x, dy }, fAttrs),
            await runOn("cpu", "Conv2DBackpropFilter", { x, dy }, fAttrs),
            `dW ${what}`,
          );
          const iAttrs = { ...base, inputShape: to([c.n, c.h, c.w, c.inC]) };
          expectClose(
            await runOn("wasm", "Conv2DBackpropInput", { dy, filter }, iAttrs),
            await runOn("cpu", "Conv2DBackpropInput", { dy, filter }, iAttrs),
            `dx ${what}`,
          );
        }
      }),
  );

  it.each(MODES)("honour dilations (%s; reference: the cpu backend with the zero-inserted filter)", async (mode) =>
    withNative(mode, async () => {
      const rng = createRng(2, "dilated");
      for (let i = 0; i < 30; i++) {
        const c = randomConv(rng, false, true);
        const base = {
          strides: c.strides,
          pad: c.pad,
          dataFormat: "NHWC",
          ...(c.dimRoundingMode ? { dimRoundingMode: c.dimRoundingMode } : {}),
        };
        const [eh, ew] = [(c.fh - 1) * c.dilations[0] + 1, (c.fw - 1) * c.dilations[1] + 1];
        const x = random(rng, [c.n, c.h, c.w, c.inC]);
        const dy = random(rng, [c.n, c.outH, c.outW, c.outC]);
        const filter = random(rng, [c.fh, c.fw, c.inC, c.outC]);
        const what = `case ${i} ${JSON.stringify(c)}`;
        const dilated = { ...base, dilations: c.dilations };
        const wantW = await runOn(
          "cpu",
          "Conv2DBackpropFilter",
          { x, dy },
          { ...base, filterShape: [eh, ew, c.inC, c.outC] },
        );
        expectClose(
          await runOn(
            "wasm",
            "Conv2DBackpropFilter",
            { x, dy },
            { ...dilated, filterShape: [c.fh, c.fw, c.inC, c.outC] },
          ),
          undilate(wantW, c, c.inC * c.outC),
          `dW ${what}`,
        );
        const inputShape = [c.n, c.h, c.w, c.inC];
        expectClose(
          await runOn("wasm", "Conv2DBackpropInput", { dy, filter }, { ...dilated, inputShape }),
          await runOn("cpu", "Conv2DBackpropInput", { dy, filter }, { ...base, inputShape }, (t) => ({
            ...t,
            filter: dilateFilter(t.filter as Tensor, c.dilations),
          })),
          `dx ${what}`,
        );
      }
    }),
  );

  it("DepthwiseConv2dNativeBackpropFilter and -Input match the cpu backend, dilations included", async () => {
    // Multiplier 1 has a native filter gradient; both it and the composed form are checked.
    for (const mode of MODES) {
      await withNative(mode, async () => {
        const rng = createRng(3, "depthwise");
        for (let i = 0; i < 50; i++) {
          const c = randomConv(rng, true, i % 2 === 1);
          const m = c.outC; // channel multiplier
          const dilated = c.dilations[0] > 1 || c.dilations[1] > 1;
          const base = {
            strides: c.strides,
            pad: c.pad,
            ...(c.dimRoundingMode ? { dimRoundingMode: c.dimRoundingMode } : {}),
          };
          const [eh, ew] = [(c.fh - 1) * c.dilations[0] + 1, (c.fw - 1) * c.dilations[1] + 1];
          const x = random(rng, [c.n, c.h, c.w, c.inC]);
          const dy = random(rng, [c.n, c.outH, c.outW, c.inC * m]);
          const filter = random(rng, [c.fh, c.fw, c.inC, m]);
          const what = `case ${i} ${JSON.stringify(c)}`;
          // The cpu kernels ignore dilations in places: the reference uses the zero-inserted filter.
          const ref = { ...base, dilations: 1 };
          const wantW = await runOn(
            "cpu",
            "DepthwiseConv2dNativeBackpropFilter",
            { x, dy },
            {
              ...ref,
              filterShape: [eh, ew, c.inC, m],
            },
          );
          expectClose(
            await runOn(
              "wasm",
              "DepthwiseConv2dNativeBackpropFilter",
              { x, dy },
              {
                ...base,
                dilations: c.dilations,
                filterShape: [c.fh, c.fw, c.inC, m],
              },
            ),
            dilated ? undilate(wantW, c, c.inC * m) : wantW,
            `dW ${mode} ${what}`,
          );
          const inputShape = [c.n, c.h, c.w, c.inC];
          expectClose(
            await runOn(
              "wasm",
              "DepthwiseConv2dNativeBackpropInput",
              { dy, filter },
              {
                ...base,
                dilations: c.dilations,
                inputShape,
              },
            ),
            await runOn("cpu", "DepthwiseConv2dNativeBackpropInput", { dy, filter }, { ...ref, inputShape }, (t) => ({
              ...t,
              filter: dilateFilter(t.filter as Tensor, c.dilations),
            })),
            `dx ${what}`,
          );
        }
      });
    }
  });

  it("the native (WebAssembly SIMD) kernels run on the wasm backend's memory", async () => {
    await tf.setBackend("wasm");
    expect(nativeKernels(tf)).toBeDefined();
    process.env.PROVMARK_WASM_NATIVE = "0";
    try {
      expect(nativeKernels(tf)).toBeUndefined();
    } finally {
      delete process.env.PROVMARK_WASM_NATIVE;
    }
  });

  it.each(MODES)("MaxPoolGrad (%s) and AvgPoolGrad match the cpu backend, ties and -Infinity included", (mode) =>
    withNative(mode, () => poolCases(mode === "native")),
  );

  async function poolCases(native: boolean): Promise<void> {
    const rng = createRng(4, "pool");
    for (let i = 0; i < 80; i++) {
      const { pad, dimRoundingMode } = randomPad(rng);
      const square = typeof pad === "number";
      const fh = 1 + rng.int(4);
      const f: [number, number] = [fh, square ? fh : 1 + rng.int(4)];
      const sh = 1 + rng.int(3);
      const strides: [number, number] = i % 3 === 0 ? f : [sh, square ? sh : 1 + rng.int(3)];
      const shape = [1 + rng.int(3), f[0] + rng.int(8), f[1] + rng.int(8), 1 + rng.int(4)];
      let info: ReturnType<TF["backend_util"]["computePool2DInfo"]>;
      try {
        info = tf.backend_util.computePool2DInfo(shape as never, f, strides, 1, pad, dimRoundingMode);
        if (info.outHeight <= 0 || info.outWidth <= 0) continue;
      } catch {
        continue;
      }
      // Small integers: many tied maxima. Every fourth case, some -Infinity values.
      const x = random(rng, shape, i % 2 === 0);
      if (i % 4 === 1) for (let j = 0; j < x.data.length; j += 3) x.data[j] = Number.NEGATIVE_INFINITY;
      // NaN, which the cpu backend never takes for a maximum (the composed form does not promise that).
      if (native && i % 4 === 3) for (let j = 1; j < x.data.length; j += 5) x.data[j] = Number.NaN;
      const dy = random(rng, info.outShape);
      const attrs = { filterSize: f, strides, pad, ...(dimRoundingMode ? { dimRoundingMode } : {}) };
      const what = `case ${i} ${JSON.stringify({ shape, attrs })}`;
      const withOutput = (t: Record<string, Tensor>) => ({
        dy: t.dy as Tensor,
        input: t.x as Tensor,
        output: tf.engine().runKernel("MaxPool", { x: t.x as Tensor }, attrs as never) as Tensor,
      });
      expectClose(
        await runOn("wasm", "MaxPoolGrad", { x, dy }, attrs, withOutput),
        await runOn("cpu", "MaxPoolGrad", { x, dy }, attrs, withOutput),
        `max ${what}`,
      );
      if (dimRoundingMode !== undefined || i % 4 === 1) continue; // AvgPoolGrad has no rounding mode
      const avg = (t: Record<string, Tensor>) => ({ dy: t.dy as Tensor, input: t.x as Tensor });
      expectClose(
        await runOn("wasm", "AvgPoolGrad", { x, dy }, attrs, avg),
        await runOn("cpu", "AvgPoolGrad", { x, dy }, attrs, avg),
        `avg ${what}`,
      );
    }
  }

  it.each(MODES)(
    "Tile, Sum and Mean (%s; the batch-norm and bias gradients' broadcasts and reductions) match the cpu backend",
    (mode) =>
      withNative(mode, async () => {
        const rng = createRng(7, "reduce");
        for (let i = 0; i < 24; i++) {
          // Channel counts through each block of the native sum: 16-wide, 4-wide and single.
          const channels = pick(rng, [1, 2, 3, 4, 5, 16, 19, 36]);
          const shape = [1 + rng.int(5), 1 + rng.int(6), 1 + rng.int(6), channels].slice(i % 3);
          const x = random(rng, shape);
          const keepDims = i % 2 === 0;
          const leading = shape.slice(0, -1).map((_, a) => a);
          for (const [kernel, attrs] of [
            ["Sum", { axis: leading, keepDims }],
            ["Mean", { axis: leading, keepDims }],
            ["Sum", { axis: [shape.length - 1], keepDims }], // not the fast path
            ["Tile", { reps: shape.map((d) => (d === 1 ? 3 : 1)) }],
            ["Tile", { reps: shape.map(() => 2) }], // not a broadcast: the wasm backend's own
          ] as const) {
            const what = `${kernel} ${JSON.stringify({ shape, attrs })}`;
            const got = await runOn("wasm", kernel, { x }, attrs);
            expectClose(got, await runOn("cpu", kernel, { x }, attrs), what);
          }
        }
      }),
  );

  it.each(MODES)("the ReLU gradient (%s) matches the cpu backend, NaN, infinities and zeros included", (mode) =>
    withNative(mode, async () => {
      const rng = createRng(7, "relu");
      for (const shape of [[5], [64, 13], [2, 7, 7, 3], [1, 4, 4, 16]]) {
        const x = random(rng, shape);
        const dy = random(rng, shape);
        const special = [0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-30, -1e-30];
        for (let i = 0; i < x.data.length; i += 3) x.data[i] = special[(i / 3) % special.length] as number;
        for (let i = 1; i < dy.data.length; i += 7) dy.data[i] = special[(i * 5) % special.length] as number;
        const grad = async (backend: "cpu" | "wasm") => {
          await tf.setBackend(backend);
          return tf.tidy(() => {
            const g = tf.grad((t: Tensor) => tf.relu(t));
            return g(tf.tensor(x.data, x.shape), tf.tensor(dy.data, dy.shape)).dataSync() as Float32Array;
          });
        };
        const got = await grad("wasm");
        const want = await grad("cpu");
        expect(Array.from(got).map(String), `relu grad ${JSON.stringify(shape)}`).toEqual(Array.from(want).map(String));
        // Second order, through the gradient's own gradient: d/dt of d(relu(t) * t)/dt.
        const second = async (backend: "cpu" | "wasm") => {
          await tf.setBackend(backend);
          return tf.tidy(() => {
            const g2 = tf.grad((t: Tensor) =>
              tf
                .grad((u: Tensor) => tf.relu(u).mul(u))(t)
                .sum(),
            );
            return g2(tf.tensor(x.data, x.shape)).dataSync() as Float32Array;
          });
        };
        expect(Array.from(await second("wasm")).map(String), `second order ${JSON.stringify(shape)}`).toEqual(
          Array.from(await second("cpu")).map(String),
        );
      }
    }),
  );

  it("Add, Sub, Multiply and RealDiv by a vector over the last axis (bias adds) match the cpu backend", async () => {
    const rng = createRng(9, "broadcast");
    // The first three take the widened fast path; the others go to the wasm backend's own kernels.
    for (const [shape, vector] of [
      [[8, 16, 16, 16], [16]],
      [
        [4, 10, 10, 5],
        [1, 1, 1, 5],
      ],
      [
        [64, 4, 64],
        [1, 64],
      ],
      [[64, 3], [3]],
      [[7, 300], [300]],
      [
        [6, 4],
        [6, 1],
      ],
    ] as const) {
      const big = random(rng, [...shape]);
      const vec = random(rng, [...vector]);
      for (const kernel of ["Add", "Sub", "Multiply", "RealDiv"]) {
        for (const [a, b] of [
          [big, vec],
          [vec, big],
        ]) {
          const what = `${kernel} ${JSON.stringify({ a: a?.shape, b: b?.shape })}`;
          const inputs = { a: a as Input, b: b as Input };
          expectClose(await runOn("wasm", kernel, inputs, {}), await runOn("cpu", kernel, inputs, {}), what);
        }
      }
    }
  });

  it("Slice (whole axes merged) and same-dtype Cast match the cpu backend", async () => {
    const rng = createRng(11, "slice");
    for (let i = 0; i < 30; i++) {
      const shape = [1 + rng.int(4), 1 + rng.int(5), 1 + rng.int(5), 1 + rng.int(4)].slice(i % 3);
      const begin = shape.map((d) => (rng.int(2) === 0 ? 0 : rng.int(d)));
      const size = shape.map((d, a) => (rng.int(2) === 0 ? -1 : 1 + rng.int(d - (begin[a] as number))));
      const x = random(rng, shape);
      const attrs = { begin, size };
      const what = `Slice ${JSON.stringify({ shape, attrs })}`;
      expectClose(await runOn("wasm", "Slice", { x }, attrs), await runOn("cpu", "Slice", { x }, attrs), what);
      const cast = { dtype: "float32" };
      expectClose(await runOn("wasm", "Cast", { x }, cast), await runOn("cpu", "Cast", { x }, cast), "Cast");
    }
  });

  it.each(MODES)("BatchMatMul (%s) with transposed operands matches the cpu backend", (mode) =>
    withNative(mode, async () => {
      const rng = createRng(5, "matmul");
      for (const [ta, tb] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        for (const batch of [[], [1], [3]]) {
          // Small sizes, and sizes through every register block of the native product (4x8, 4x4,
          // single rows and columns) up to past its row limit.
          for (const size of ["small", "big", "big", "tall"] as const) {
            const dims: Record<typeof size, [number, number, number]> = {
              small: [1 + rng.int(9), 1 + rng.int(9), 1 + rng.int(9)],
              big: [1 + rng.int(70), 1 + rng.int(60), 1 + rng.int(40)],
              tall: [200 + rng.int(100), 1 + rng.int(30), 1 + rng.int(20)],
            };
            const [m, k, n] = dims[size];
            const a = random(rng, [...batch, ...(ta ? [k, m] : [m, k])]);
            const b = random(rng, [...batch, ...(tb ? [n, k] : [k, n])]);
            const attrs = { transposeA: ta, transposeB: tb };
            expectClose(
              await runOn("wasm", "BatchMatMul", { a, b }, attrs),
              await runOn("cpu", "BatchMatMul", { a, b }, attrs),
              `matmul ${JSON.stringify({ batch, m, k, n, ta, tb })}`,
            );
          }
        }
      }
    }),
  );

  it("BatchMatMul gives the same product when the right operand is reused (native first, then XNNPACK)", async () => {
    const rng = createRng(6, "matmul-reuse");
    const a = random(rng, [37, 53]);
    const b = random(rng, [53, 29]);
    const want = await runOn("cpu", "BatchMatMul", { a, b }, { transposeA: false, transposeB: false });
    await tf.setBackend("wasm");
    const [first, second] = tf.tidy(() => {
      const at = tf.tensor(a.data, a.shape);
      const bt = tf.tensor(b.data, b.shape);
      return [tf.matMul(at, bt).dataSync() as Float32Array, tf.matMul(at, bt).dataSync() as Float32Array];
    });
    expectClose(first as Float32Array, want, "first product");
    expectClose(second as Float32Array, want, "second product");
  });
});

/** Gradients of every trainable weight of `model` on one batch, as host arrays, on a backend. */
async function weightGrads(
  backend: "cpu" | "wasm",
  model: import("@tensorflow/tfjs").LayersModel,
  x: Input,
  labels: Int32Array,
  classes: number,
): Promise<Map<string, Float32Array>> {
  await tf.setBackend(backend);
  const out = new Map<string, Float32Array>();
  tf.tidy(() => {
    const xs = tf.tensor(x.data, x.shape);
    const ys = tf.oneHot(tf.tensor1d(labels, "int32"), classes);
    const { grads } = tf.variableGrads(() => {
      const p = model.apply(xs, { training: true }) as Tensor;
      return tf.losses.softmaxCrossEntropy(ys, p) as import("@tensorflow/tfjs").Scalar;
    });
    for (const [k, g] of Object.entries(grads)) out.set(k, g.dataSync() as Float32Array);
  });
  return out;
}

function residualCnn(seed: number): import("@tensorflow/tfjs").LayersModel {
  const init = (n: number) => tf.initializers.glorotUniform({ seed: seed + n });
  const input = tf.input({ shape: [12, 12, 3] });
  const stem = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: "same", kernelInitializer: init(1) });
  let h = stem.apply(input) as import("@tensorflow/tfjs").SymbolicTensor;
  h = tf.layers.batchNormalization().apply(h) as typeof h;
  h = tf.layers.reLU().apply(h) as typeof h;
  let r = tf.layers
    .conv2d({ filters: 8, kernelSize: 3, padding: "same", kernelInitializer: init(2) })
    .apply(h) as typeof h;
  r = tf.layers.batchNormalization().apply(r) as typeof h;
  h = tf.layers.reLU().apply(tf.layers.add().apply([h, r]) as typeof h) as typeof h;
  // Downsampling: strided conv, then a separable (depthwise + pointwise) conv, avg and max pooling.
  h = tf.layers
    .conv2d({ filters: 12, kernelSize: 3, strides: 2, padding: "same", activation: "relu", kernelInitializer: init(3) })
    .apply(h) as typeof h;
  h = tf.layers
    .separableConv2d({
      filters: 12,
      kernelSize: 3,
      padding: "same",
      depthMultiplier: 2,
      depthwiseInitializer: init(4),
      pointwiseInitializer: init(5),
    })
    .apply(h) as typeof h;
  h = tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: "same" }).apply(h) as typeof h;
  h = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "same" }).apply(h) as typeof h;
  h = tf.layers.globalAveragePooling2d({}).apply(h) as typeof h;
  const out = tf.layers.dense({ units: 5, activation: "softmax", kernelInitializer: init(6) }).apply(h) as typeof h;
  return tf.model({ inputs: input, outputs: out });
}

function lenet(seed: number): import("@tensorflow/tfjs").Sequential {
  const init = (n: number) => tf.initializers.glorotUniform({ seed: seed + n });
  const m = tf.sequential();
  m.add(
    tf.layers.conv2d({
      inputShape: [14, 14, 1],
      filters: 6,
      kernelSize: 3,
      activation: "relu",
      kernelInitializer: init(1),
    }),
  );
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: "relu", kernelInitializer: init(2) }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 16, activation: "relu", kernelInitializer: init(3) }));
  m.add(tf.layers.dense({ units: 10, activation: "softmax", kernelInitializer: init(4) }));
  return m;
}

describe("training CNNs on wasm", () => {
  for (const [name, build, shape, classes] of [
    ["LeNet-style CNN", lenet, [8, 14, 14, 1], 10],
    ["residual CNN (batch norm, skip, strided, separable, pooling)", residualCnn, [6, 12, 12, 3], 5],
  ] as const) {
    it(`${name}: weight gradients match the cpu backend and a training step leaks nothing`, async () => {
      await tf.setBackend("wasm");
      const model = build(11);
      const rng = createRng(6, name);
      const x = random(rng, [...shape]);
      const labels = Int32Array.from({ length: shape[0] }, () => rng.int(classes));
      const before = tf.memory().numTensors;
      const got = await weightGrads("wasm", model, x, labels, classes);
      const want = await weightGrads("cpu", model, x, labels, classes);
      expect([...got.keys()]).toEqual([...want.keys()]);
      for (const [k, g] of got) expectClose(g, want.get(k) as Float32Array, `${name} ${k}`);
      await tf.setBackend("wasm");
      expect(tf.memory().numTensors).toBe(before);

      const optimizer = tf.train.adam(1e-3);
      model.compile({ optimizer, loss: "categoricalCrossentropy" });
      const xs = tf.tensor(x.data, x.shape);
      const ys = tf.oneHot(tf.tensor1d(labels, "int32"), classes);
      const steady = tf.memory().numTensors;
      const losses: number[] = [];
      for (let s = 0; s < 3; s++) losses.push((await model.trainOnBatch(xs, ys)) as number);
      expect(losses.every(Number.isFinite)).toBe(true);
      const afterSteps = tf.memory().numTensors;
      await model.trainOnBatch(xs, ys);
      expect(tf.memory().numTensors).toBe(afterSteps); // optimizer state exists after the first step
      expect(afterSteps).toBeGreaterThanOrEqual(steady);
      tf.dispose([xs, ys]);
      optimizer.dispose();
      model.dispose();
    });
  }
});
