import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { dirname, join } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs";
import { ProvmarkError } from "../errors.js";

type TF = typeof tfTypes;

/**
 * tfjs-backend-wasm ships a threaded SIMD build (XNNPACK on a pthreadpool of Node worker threads)
 * but never uses it under Node (tensorflow/tfjs#3830): its feature flag answers "no threads" for
 * Node, its loader hands Emscripten a Blob URL that Node's Worker cannot start, and the module caps
 * the pool at half the logical cores (one thread on a 2-core machine). This module loads that build
 * the way Node can: the worker script (shipped only as a string) written to a private temp file,
 * the .wasm read from the package, and the core count the cap is computed from raised for the
 * duration of the module's start. The result is registered as the "wasm" backend, so every wasm
 * kernel (and provmark's gradient kernels) runs on it unchanged.
 *
 * The structure it relies on was read from tfjs-backend-wasm 4.22.0; `THREADED_UP_TO` gates it.
 */

/** The newest tfjs-backend-wasm whose threaded build this loader was checked against. */
export const THREADED_UP_TO = "4.22.0";
/** The pthread pool the threaded build preallocates; more threads than this would block. */
export const MAX_WASM_THREADS = 8;

interface WasmPackage {
  BackendWasm: new (module: unknown) => tfTypes.KernelBackend;
  setThreadsCount: (n: number) => void;
  getThreadsCount: () => number;
  version_wasm: string;
}

interface EmscriptenModule {
  cwrap: (name: string, ret: string | null, args: string[]) => (...a: unknown[]) => unknown;
  PThread?: { runningWorkers?: Array<{ unref?: () => void }> };
  tfjs?: unknown;
}

type Factory = (config: { locateFile: (path: string, prefix: string) => string }) => Promise<EmscriptenModule>;

const require = createRequire(import.meta.url);

/**
 * The thread count for the wasm backend: PROVMARK_WASM_THREADS when set (1 = the single-threaded
 * SIMD build), else the machine's available parallelism, at most MAX_WASM_THREADS.
 */
export function wasmThreadCount(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.PROVMARK_WASM_THREADS;
  if (raw !== undefined && raw.trim() !== "") {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
      throw new ProvmarkError("USAGE", `PROVMARK_WASM_THREADS must be an integer from 1 to ${MAX_WASM_THREADS}`, {
        subject: "PROVMARK_WASM_THREADS",
        hints: [`Unset it to use every core, or set 1 for the single-threaded build (got ${JSON.stringify(raw)}).`],
      });
    }
    return n;
  }
  return Math.max(1, Math.min(MAX_WASM_THREADS, os.availableParallelism()));
}

/**
 * Replaces the registered "wasm" backend factory with one that starts the threaded SIMD build on
 * `threads` threads. Call before `tf.setBackend("wasm")`. Throws (leaving the package's own factory
 * registered) when the installed package is newer than THREADED_UP_TO or lacks a piece it needs.
 */
export function registerThreadedWasm(tf: TF, threads: number): { startError: () => unknown } {
  const pkg = require("@tensorflow/tfjs-backend-wasm") as WasmPackage;
  if (compareVersions(pkg.version_wasm, THREADED_UP_TO) > 0) {
    throw new Error(`tfjs-backend-wasm ${pkg.version_wasm} is newer than ${THREADED_UP_TO}, the last checked`);
  }
  const outDir = join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "wasm-out");
  const factory = require(join(outDir, "tfjs-backend-wasm-threaded-simd.js")) as Factory;
  const { wasmWorkerContents } = require(join(outDir, "tfjs-backend-wasm-threaded-simd.worker.js")) as {
    wasmWorkerContents?: string;
  };
  if (
    typeof factory !== "function" ||
    typeof wasmWorkerContents !== "string" ||
    typeof pkg.BackendWasm !== "function"
  ) {
    throw new Error("tfjs-backend-wasm's threaded build is not laid out as expected");
  }
  const workerScript = wasmWorkerContents;
  // TF.js reports a backend that fails to start only as `setBackend` returning false.
  let startError: unknown;
  tf.removeBackend("wasm");
  tf.registerBackend(
    "wasm",
    async () => {
      try {
        return await startBackend();
      } catch (e) {
        startError = e;
        throw e;
      }
    },
    2,
  );
  return { startError: () => startError };

  async function startBackend(): Promise<tfTypes.KernelBackend> {
    const worker = writeWorkerScript(workerScript);
    let module: EmscriptenModule;
    try {
      module = await startModule(factory, outDir, worker.file, threads);
    } finally {
      // Every pool worker has read the script once the module is ready (the pool is preallocated
      // and larger than any thread count allowed here), so nothing is left behind in tmp.
      worker.remove();
    }
    module.tfjs = {
      init: module.cwrap("init", null, []),
      initWithThreadsCount: module.cwrap("init_with_threads_count", null, ["number"]),
      getThreadsCount: module.cwrap("get_threads_count", "number", []),
      registerTensor: module.cwrap("register_tensor", null, ["number", "number", "number"]),
      disposeData: module.cwrap("dispose_data", null, ["number"]),
      dispose: module.cwrap("dispose", null, []),
    };
    pkg.setThreadsCount(threads);
    const backend = new pkg.BackendWasm(module);
    // The pool's threads wait for work forever; unreferenced, they do not keep Node alive.
    for (const w of module.PThread?.runningWorkers ?? []) w.unref?.();
    const got = pkg.getThreadsCount();
    if (got !== threads) throw new Error(`the threaded wasm build started ${got} threads, not ${threads}`);
    return backend;
  }
}

async function startModule(factory: Factory, outDir: string, workerFile: string, threads: number) {
  // The module computes its thread cap (logical cores / 2) from os.cpus() while it starts.
  const cpus = os.cpus;
  const real = cpus();
  os.cpus = () =>
    Array.from({ length: Math.max(real.length, 2 * threads) }, (_, i) => real[i % real.length] as os.CpuInfo);
  try {
    return await factory({
      locateFile: (path) => (path.endsWith(".worker.js") ? workerFile : join(outDir, path)),
    });
  } finally {
    os.cpus = cpus;
  }
}

/**
 * The pthread worker script in a fresh 0700 temp directory. The package ships it as a JavaScript
 * string whose "\n" escapes became newlines; they are restored as tfjs-backend-wasm's own loader
 * does. `remove` deletes it (also done at exit, should the start fail half-way).
 */
function writeWorkerScript(contents: string): { file: string; remove: () => void } {
  const dir = mkdtempSync(join(os.tmpdir(), "provmark-wasm-"));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  process.once("exit", remove);
  const file = join(dir, "pthread-worker.cjs");
  writeFileSync(file, contents.replace(/\n/g, "\\n"), { mode: 0o600 });
  return {
    file,
    remove: () => {
      process.off("exit", remove);
      remove();
    },
  };
}

/** Compares dotted versions by their first three numeric parts (pre-release tags ignored). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
