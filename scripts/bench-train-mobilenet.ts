/**
 * `npm run bench:train -- --arch mobilenetv2`: trains Teachable Machine's base, MobileNetV2 α 0.35
 * at 224x224x3 (src/model/mobilenet-v2.ts, fresh weights, a softmax head of --classes), with Adam
 * 1e-3, batch --batch, on the wasm backend, against torchvision's mobilenet_v2(width_mult=0.35) in
 * PyTorch. Each step is slow (seconds), so a run is --warmup untimed steps then --steps timed ones on
 * one fixed synthetic batch (uniform in [-1, 1], random labels: the content does not change the
 * work). wasm and PyTorch runs alternate, --repeat times, each a fresh model (PyTorch in its own
 * process), and their medians are compared. Prints a table, then one JSON line.
 * Batch 32 (Teachable Machine's) does not fit yet: TF.js keeps every activation and its gradient
 * temporaries in the wasm backend's memory, whose 4 GiB XNNPACK then fails to allocate from (and
 * the step stalls), so the default is 16.
 * Options: --steps N (5), --warmup N (2), --batch N (16), --classes N (2), --repeat N (3),
 * --threads N (PyTorch threads, 2), --no-torch, --profile (per-kernel wasm ms of one step, to
 * stderr); PROVMARK_PYTHON picks the Python interpreter, PROVMARK_WASM_THREADS the wasm threads.
 */
import { spawnSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import type * as tfTypes from "@tensorflow/tfjs";
import { createRng } from "../src/core/rng.js";
import { createAdam } from "../src/model/adam.js";
import { loadTf, type TF } from "../src/model/backend.js";
import { buildMobileNetV2 } from "../src/model/mobilenet-v2.js";
import { profileKernels } from "./profile-kernels.js";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const steps = Math.max(1, arg("--steps", 5));
const warmup = Math.max(0, arg("--warmup", 2));
const batch = arg("--batch", 16);
const classes = arg("--classes", 2);
const repeat = Math.max(1, arg("--repeat", 3));
const threads = arg("--threads", 2);
const size = 224;
const log = (m: string) => process.stderr.write(`${m}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function syntheticBatch(tf: TF): { x: tfTypes.Tensor; y: tfTypes.Tensor } {
  const rng = createRng(1, "bench-train-mobilenet");
  const x = Float32Array.from({ length: batch * size * size * 3 }, () => rng.next() * 2 - 1);
  const labels = Int32Array.from({ length: batch }, () => rng.int(classes));
  return { x: tf.tensor4d(x, [batch, size, size, 3]), y: tf.oneHot(tf.tensor1d(labels, "int32"), classes) };
}

/** One run: a fresh model, `warmup` untimed steps, then `steps` timed ones; seconds per step. */
async function runWasm(tf: TF, data: { x: tfTypes.Tensor; y: tfTypes.Tensor }, seed: number): Promise<number[]> {
  const model = buildMobileNetV2(tf, [size, size, 3], classes, seed);
  const optimizer = createAdam(tf, 1e-3);
  model.compile({ optimizer, loss: "categoricalCrossentropy" });
  const times: number[] = [];
  for (let s = 0; s < warmup + steps; s++) {
    const t = performance.now();
    await model.trainOnBatch(data.x, data.y);
    if (s >= warmup) times.push((performance.now() - t) / 1000);
  }
  if (process.argv.includes("--profile") && seed === 1) {
    const rows = await profileKernels(tf, () => model.trainOnBatch(data.x, data.y));
    log(rows);
  }
  optimizer.dispose();
  model.dispose();
  return times;
}

interface TorchRun {
  torch: string;
  threads: number;
  stepSeconds: number[];
  params: number;
}

function runTorch(python: string): TorchRun {
  const script = fileURLToPath(new URL("./bench-train-torch.py", import.meta.url));
  const args = [script, "--arch", "mobilenetv2", "--steps", `${steps}`, "--warmup", `${warmup}`];
  args.push("--batch", `${batch}`, "--classes", `${classes}`, "--threads", `${threads}`);
  const r = spawnSync(python, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`bench-train-torch.py failed: ${r.stderr.trim().split("\n").at(-1)}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1) as string) as TorchRun;
}

function findPython(): string | { skipped: string } {
  if (process.argv.includes("--no-torch")) return { skipped: "--no-torch" };
  const candidates = process.env.PROVMARK_PYTHON ? [process.env.PROVMARK_PYTHON] : ["python3", "/usr/bin/python3"];
  const ok = (p: string) => spawnSync(p, ["-c", "import torch, torchvision"], { stdio: "ignore" }).status === 0;
  return candidates.find(ok) ?? { skipped: `no Python with torch and torchvision among ${candidates.join(", ")}` };
}

export async function benchMobileNet(): Promise<void> {
  const loaded = await loadTf("wasm");
  const tf = loaded.tf;
  const wasmThreads = loaded.info.wasm?.threads ?? 1;
  const data = syntheticBatch(tf);
  const params = (() => {
    const m = buildMobileNetV2(tf, [size, size, 3], classes, 1);
    const trainable = m.trainableWeights.reduce((a, w) => a + (w.shape as number[]).reduce((p, d) => p * d, 1), 0);
    const all = m.countParams();
    m.dispose();
    return { trainable, all };
  })();
  const python = findPython();
  log(
    `MobileNetV2 a0.35 ${size}x${size}x3, batch ${batch}: wasm on ${wasmThreads} threads, ${repeat} runs of ${warmup}+${steps} steps (load average ${loadavg()[0]?.toFixed(2)})`,
  );
  const wasmRuns: number[] = [];
  const torchRuns: TorchRun[] = [];
  // Alternating keeps the two sides under the same load from the machine's other users.
  for (let r = 0; r < repeat; r++) {
    const w = median(await runWasm(tf, data, r + 1));
    wasmRuns.push(w);
    let line = `run ${r + 1}/${repeat}: wasm ${w.toFixed(2)} s/step`;
    if (typeof python === "string") {
      const t = runTorch(python);
      torchRuns.push(t);
      line += `, torch ${median(t.stepSeconds).toFixed(2)} s/step`;
    }
    log(`${line} (load average ${loadavg()[0]?.toFixed(2)})`);
  }
  tf.dispose([data.x, data.y]);

  const wasmStep = median(wasmRuns);
  const torchStep = torchRuns.length > 0 ? median(torchRuns.map((t) => median(t.stepSeconds))) : undefined;
  const wasmSps = batch / wasmStep;
  const torchSps = torchStep === undefined ? undefined : batch / torchStep;
  const ratio = torchSps === undefined ? undefined : wasmSps / torchSps;
  const torch0 = torchRuns[0];
  const row = (name: string, sps: number, step: number) =>
    `${name.padEnd(26)} ${sps.toFixed(2).padStart(10)} ${step.toFixed(3).padStart(10)}`;
  const lines = [
    "",
    `MobileNetV2 a0.35 ${size}x${size}x3, batch ${batch}, ${classes} classes, Adam; ${cpus().length} cores, load average ${loadavg()[0]?.toFixed(2)}`,
    `median of ${repeat} runs (each the median of ${steps} steps after ${warmup} warm-up); wasm runs ${wasmRuns.map((s) => s.toFixed(2)).join(", ")} s/step${torchRuns.length > 0 ? `; torch runs ${torchRuns.map((t) => median(t.stepSeconds).toFixed(2)).join(", ")} s/step` : ""}`,
    `parameters: tfjs ${params.trainable} trainable (${params.all} with BatchNorm statistics)${torch0 ? `, torchvision ${torch0.params}` : ""}`,
    `${"".padEnd(26)} ${"samples/s".padStart(10)} ${"s/step".padStart(10)}`,
    row(`tfjs wasm (${wasmThreads}t)`, wasmSps, wasmStep),
    torch0 && torchStep !== undefined && torchSps !== undefined
      ? row(`PyTorch ${torch0.torch} (${torch0.threads}t)`, torchSps, torchStep)
      : `PyTorch: skipped (${(python as { skipped: string }).skipped})`,
    "",
    ratio === undefined
      ? "wasm / torch: n/a"
      : `wasm / torch: ${ratio.toFixed(2)}x (target >= 0.5x: ${ratio >= 0.5 ? "met" : "NOT met"})`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  process.stdout.write(
    `${JSON.stringify({
      arch: "mobilenetv2",
      alpha: 0.35,
      inputShape: [size, size, 3],
      batchSize: batch,
      classes,
      steps,
      warmup,
      repeat,
      loadAverage: loadavg()[0],
      params,
      wasm: { threads: wasmThreads, samplesPerSec: wasmSps, stepSeconds: wasmStep, runs: wasmRuns },
      torch:
        torch0 && torchSps !== undefined
          ? { ...torch0, samplesPerSec: torchSps, stepSeconds: torchStep, runs: torchRuns.map((t) => t.stepSeconds) }
          : python,
      ratios: { wasmOverTorch: ratio ?? null },
      targets: { wasmOverTorchHalf: ratio === undefined ? null : ratio >= 0.5 },
    })}\n`,
  );
}
