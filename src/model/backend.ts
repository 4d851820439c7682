import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs";
import { ProvmarkError } from "../errors.js";
import { registerWasmGradKernels } from "./wasm-kernels/index.js";
import { nativeKernels } from "./wasm-kernels/native.js";
import { registerThreadedWasm, wasmThreadCount } from "./wasm-threads.js";

export type TF = typeof tfTypes;
export type BackendName = "tensorflow" | "wasm" | "cpu";
export type BackendChoice = BackendName | "auto";
export const BACKEND_ORDER: readonly BackendName[] = ["tensorflow", "wasm", "cpu"];

export interface BackendAttempt {
  backend: BackendName;
  ok: boolean;
  /** Why it did not load (module missing, native binding absent, ...). */
  reason?: string;
}

export interface BackendInfo {
  /** The backend in use. */
  backend: BackendName;
  requested: BackendChoice;
  tfjsVersion: string;
  attempts: BackendAttempt[];
  /** wasm only: whether the SIMD build is in use, and on how many threads. */
  wasm?: WasmFeatures;
}

export interface WasmFeatures {
  simd: boolean;
  /** Threads XNNPACK runs on (1 = the single-threaded build). */
  threads: number;
  /** Why more threads were asked for (PROVMARK_WASM_THREADS or the core count) but not used. */
  threadsUnavailable?: string;
  /** Whether provmark's native WebAssembly kernels run (docs/training.md); off by PROVMARK_WASM_NATIVE=0. */
  native: boolean;
}

export interface LoadedTf {
  tf: TF;
  info: BackendInfo;
}

let loading: Promise<LoadedTf> | undefined;
let loadedChoice: BackendChoice | undefined;

/** `--backend` flag, else PROVMARK_BACKEND, else auto. */
export function backendChoice(flag?: string): BackendChoice {
  const v = flag ?? process.env.PROVMARK_BACKEND ?? "auto";
  if (v === "auto" || (BACKEND_ORDER as readonly string[]).includes(v)) return v as BackendChoice;
  throw new ProvmarkError("USAGE", `unknown TensorFlow.js backend ${JSON.stringify(v)}`, {
    subject: "--backend",
    hints: [`Choose one of auto, ${BACKEND_ORDER.join(", ")} (flag --backend or env PROVMARK_BACKEND).`],
  });
}

/**
 * Loads TensorFlow.js once per process with the preferred backend: tfjs-node ("tensorflow") when
 * its native binding loads, else wasm, else cpu. A forced backend that cannot load is an error;
 * under auto, each failure is recorded so `provmark doctor` can say why.
 */
export function loadTf(choice: BackendChoice = backendChoice()): Promise<LoadedTf> {
  // A bad thread count is the user's to fix, not a reason to fall back to the slow cpu backend.
  if (choice === "auto" || choice === "wasm") wasmThreadCount();
  if (loading !== undefined) {
    if (choice !== loadedChoice && choice !== "auto") {
      return loading.then(async (l) => {
        if (l.info.backend !== choice) await switchBackend(l, choice);
        return l;
      });
    }
    return loading;
  }
  loadedChoice = choice;
  loading = doLoad(choice);
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

const require = createRequire(import.meta.url);

async function doLoad(choice: BackendChoice): Promise<LoadedTf> {
  const attempts: BackendAttempt[] = [];
  const order = choice === "auto" ? BACKEND_ORDER : [choice];
  let tf: TF | undefined;
  for (const name of order) {
    try {
      tf = await tryBackend(name, tf);
      attempts.push({ backend: name, ok: true });
      const info: BackendInfo = {
        backend: name,
        requested: choice,
        tfjsVersion: tf.version.tfjs,
        attempts,
      };
      if (name === "wasm") info.wasm = wasmFeatures(tf);
      return { tf, info };
    } catch (e) {
      attempts.push({ backend: name, ok: false, reason: firstLine(e) });
    }
  }
  const why = attempts.map((a) => `${a.backend}: ${a.reason}`).join("; ");
  throw new ProvmarkError("BACKEND_UNAVAILABLE", `no TensorFlow.js backend could be loaded (${why})`, {
    subject: "--backend",
    hints:
      choice === "auto"
        ? ["Reinstall dependencies with `npm ci`."]
        : [`Try --backend auto, or install what the ${choice} backend needs.`],
  });
}

async function tryBackend(name: BackendName, loaded: TF | undefined): Promise<TF> {
  if (name === "tensorflow") {
    // tfjs-node re-exports tfjs with its native backend registered; it throws when the binding is absent.
    const tf = require("@tensorflow/tfjs-node") as TF;
    await setBackend(tf, "tensorflow");
    return tf;
  }
  const tf = loaded ?? quietRequireTf();
  if (name === "wasm") {
    const wasm = require("@tensorflow/tfjs-backend-wasm") as {
      setWasmPaths: (p: string) => void;
      version_wasm: string;
    };
    // Point at the package's own .wasm files so nothing is fetched.
    wasm.setWasmPaths(`${join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm")), "/")}`);
    await setWasmBackend(tf);
    // Convolution and pooling gradients (and faster matmul, reduction and tile paths), so that
    // CNNs train on wasm: docs/training.md.
    registerWasmGradKernels(tf, wasm.version_wasm);
    return tf;
  }
  await setBackend(tf, name);
  return tf;
}

let wasmThreads: { threads: number; unavailable?: string } | undefined;

/**
 * The wasm backend on wasmThreadCount() threads (the threaded SIMD build, docs/training.md), or the
 * package's single-threaded build when one thread is asked for or the threaded build fails to start.
 */
async function setWasmBackend(tf: TF): Promise<void> {
  if (wasmThreads !== undefined) {
    // Set up once per process: switching back to wasm reuses the running backend.
    await setBackend(tf, "wasm");
    return;
  }
  const threads = wasmThreadCount();
  wasmThreads = { threads: 1 };
  if (threads > 1) {
    const original = tf.findBackendFactory("wasm");
    let threaded: { startError: () => unknown } | undefined;
    try {
      threaded = registerThreadedWasm(tf, threads);
      await setBackend(tf, "wasm");
      wasmThreads = { threads };
      return;
    } catch (e) {
      wasmThreads = { threads: 1, unavailable: firstLine(threaded?.startError() ?? e) };
      tf.removeBackend("wasm");
      tf.registerBackend("wasm", original, 2);
    }
  }
  await setBackend(tf, "wasm");
}

function quietRequireTf(): TF {
  const tf = require("@tensorflow/tfjs") as TF;
  // Production mode silences TF.js's console advice (e.g. "install tfjs-node") and debug checks;
  // provmark validates weights itself.
  tf.enableProdMode();
  return tf;
}

async function setBackend(tf: TF, name: string): Promise<void> {
  // Emscripten's wasm runtime installs process handlers that re-throw and exit with code 7; drop
  // them so provmark's own error handling (and exit codes) stay in charge.
  const uncaught = process.listeners("uncaughtException");
  const unhandled = process.listeners("unhandledRejection");
  try {
    const ok = await tf.setBackend(name);
    if (!ok || tf.getBackend() !== name) throw new Error(`tf.setBackend("${name}") failed`);
    await tf.ready();
  } finally {
    for (const l of process.listeners("uncaughtException")) {
      if (!uncaught.includes(l)) process.off("uncaughtException", l);
    }
    for (const l of process.listeners("unhandledRejection")) {
      if (!unhandled.includes(l)) process.off("unhandledRejection", l);
    }
  }
}

async function switchBackend(l: LoadedTf, choice: BackendName): Promise<void> {
  const tf = await tryBackend(choice, l.tf);
  l.tf = tf;
  l.info = { ...l.info, backend: choice, requested: choice };
  if (choice === "wasm") l.info.wasm = wasmFeatures(tf);
}

function wasmFeatures(tf: TF): WasmFeatures {
  const threads = wasmThreads?.threads ?? 1;
  // The threaded build is a SIMD build; the single-threaded one was picked by this flag.
  let simd = threads > 1;
  try {
    simd ||= Boolean(tf.env().get("WASM_HAS_SIMD_SUPPORT"));
  } catch {}
  const f: WasmFeatures = { simd, threads, native: tf.getBackend() === "wasm" && nativeKernels(tf) !== undefined };
  if (wasmThreads?.unavailable !== undefined) f.threadsUnavailable = wasmThreads.unavailable;
  return f;
}

function firstLine(e: unknown): string {
  const msg = (e as Error)?.message ?? String(e);
  if ((e as NodeJS.ErrnoException)?.code === "MODULE_NOT_FOUND" && msg.includes("tfjs-node")) {
    return "@tensorflow/tfjs-node is not installed (optional: its install downloads libtensorflow)";
  }
  return msg.split("\n")[0] ?? msg;
}

/** Whether the active backend has a kernel (e.g. Conv2DBackpropFilter, needed to train CNNs). */
export function hasKernel(tf: TF, kernel: string): boolean {
  return tf.getKernel(kernel, tf.getBackend()) !== undefined;
}
