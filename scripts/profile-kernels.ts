import type * as tfTypes from "@tensorflow/tfjs";
import type { TF } from "../src/model/backend.js";

/**
 * Times every kernel of the active backend while `run` runs, by wrapping each registered kernel
 * function (wasm kernels are synchronous, so wall time is their time). provmark's composed kernels
 * call other kernels: "self" excludes those, "total" includes them. Returns a table, slowest first.
 */
export async function profileKernels(tf: TF, run: () => Promise<unknown>): Promise<string> {
  const backend = tf.getBackend();
  const configs = tf.getKernelsForBackend(backend);
  const stats = new Map<string, { calls: number; self: number; total: number }>();
  const stack: number[] = [];
  for (const c of configs) {
    const inner = c.kernelFunc;
    const wrapped: tfTypes.KernelFunc = (args) => {
      stack.push(0);
      const t = performance.now();
      try {
        return inner(args);
      } finally {
        const total = performance.now() - t;
        const nested = stack.pop() as number;
        if (stack.length > 0) stack[stack.length - 1] = (stack.at(-1) as number) + total;
        const s = stats.get(c.kernelName) ?? { calls: 0, self: 0, total: 0 };
        s.calls++;
        s.self += total - nested;
        // A kernel inside itself (none so far) would count twice in total.
        s.total += total;
        stats.set(c.kernelName, s);
      }
    };
    tf.unregisterKernel(c.kernelName, backend);
    tf.registerKernel({ ...c, kernelFunc: wrapped });
  }
  const t = performance.now();
  try {
    await run();
  } finally {
    for (const c of configs) {
      tf.unregisterKernel(c.kernelName, backend);
      tf.registerKernel(c);
    }
  }
  const wall = performance.now() - t;
  const rows = [...stats.entries()].sort((a, b) => b[1].self - a[1].self);
  const selfSum = rows.reduce((a, [, s]) => a + s.self, 0);
  const lines = [`one step: ${wall.toFixed(0)} ms wall, ${selfSum.toFixed(0)} ms in kernels`];
  lines.push(`${"kernel".padEnd(40)} ${"calls".padStart(6)} ${"self ms".padStart(9)} ${"total ms".padStart(9)}`);
  for (const [name, s] of rows) {
    if (s.self < 0.5) continue;
    lines.push(
      `${name.padEnd(40)} ${`${s.calls}`.padStart(6)} ${s.self.toFixed(1).padStart(9)} ${s.total.toFixed(1).padStart(9)}`,
    );
  }
  return lines.join("\n");
}
