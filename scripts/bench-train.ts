/**
 * `npm run bench:train`: trains the benchmark CNN (`provmark train --arch cnn`: conv 16 3x3 relu,
 * maxpool 2, conv 32 3x3 relu, maxpool 2, dense 64 relu, dense 10 softmax; Adam 1e-3, batch 64) on
 * 2,000 training images of the built-in `mnist` dataset (a fixed sample of all classes), 3 epochs,
 * on the wasm backend; the same model on the cpu backend for a few steps (scaled to the full run);
 * and, when Python's torch imports (Debian: `apt-get install python3-torch`), the same model in
 * PyTorch with 2 threads.
 * Prints a table, then one JSON line: samples/s, ratios, GFLOP/s, final training accuracy.
 * wasm and PyTorch each train the whole run --repeat times (3) in their own process, a fresh model
 * each time; their medians are compared, since one run on a shared 2-core machine varies by 20-40%.
 * Options: --cpu-steps N (default 3, plus one untimed warm-up step), --epochs N (3), --count N (2000),
 * --repeat N (3), --threads N (PyTorch threads, 2), --no-torch; PROVMARK_PYTHON picks the Python
 * interpreter; PROVMARK_WASM_THREADS the wasm backend's threads (default: the core count).
 * --arch mobilenetv2 benchmarks Teachable Machine's MobileNetV2 instead: scripts/bench-train-mobilenet.ts.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as tfTypes from "@tensorflow/tfjs";
import { createRng, permutation } from "../src/core/rng.js";
import { createAdam } from "../src/model/adam.js";
import { ARCH_DEFAULTS, buildModel } from "../src/model/archs.js";
import { loadTf, type TF } from "../src/model/backend.js";
import { type ImageDataset, type ImageSplit, takeExamples } from "../src/model/datasets/dataset.js";
import { loadDataset } from "../src/model/datasets/index.js";
import { accuracy, fitModel } from "../src/model/train-loop.js";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const epochs = arg("--epochs", 3);
const count = arg("--count", 2000);
const cpuSteps = arg("--cpu-steps", 3);
const threads = arg("--threads", 2);
const repeat = Math.max(1, arg("--repeat", 3));
const batchSize = 64;
const seed = 1;
const log = (m: string) => process.stderr.write(`${m}\n`);

const archAt = process.argv.indexOf("--arch");
const arch = archAt > 0 ? process.argv[archAt + 1] : "cnn";
if (arch === "mobilenetv2") {
  await (await import("./bench-train-mobilenet.js")).benchMobileNet();
  process.exit(0);
}
if (arch !== "cnn") throw new Error(`--arch must be cnn (the default) or mobilenetv2, not ${arch}`);

const mnist = await loadDataset("mnist");
const pixels = mnist.inputShape[0] * mnist.inputShape[1] * mnist.inputShape[2];
const first = (s: ImageSplit, n: number): ImageSplit => ({
  x: s.x.subarray(0, n * pixels),
  y: s.y.subarray(0, n),
  count: n,
  pixels: s.pixels.subarray(0, n * pixels),
});
// The loader's training split is ordered by class (its first 2,000 images are digits 0-2 only), so
// the benchmark takes 2,000 images drawn by a fixed permutation: every class, the same set each run.
const picked = takeExamples(
  mnist.train,
  permutation(mnist.train.count, createRng(1, "bench-train")).subarray(0, count),
  pixels,
);
const data: ImageDataset = { ...mnist, train: picked };

interface Run {
  seconds: number;
  samplesPerSec: number;
  trainAccuracy: number;
  losses: number[];
}

/** Trains the CNN on `d` with the loaded backend; per-step seconds from the trainer's callbacks. */
async function train(tf: TF, d: ImageDataset, runEpochs: number, skipSteps = 0): Promise<Run> {
  const model = buildModel(tf, "cnn", d.inputShape, d.numClasses, seed);
  const optimizer = createAdam(tf, ARCH_DEFAULTS.cnn.learningRate);
  model.compile({ optimizer, loss: "categoricalCrossentropy", metrics: ["accuracy"] });
  const losses: number[] = [];
  const stamps: number[] = [];
  const started = performance.now();
  await fitModel(tf, model, d, {
    epochs: runEpochs,
    batchSize,
    seed,
    maxShift: 0,
    onBatch: (_done, _total, loss) => {
      losses.push(loss);
      stamps.push(performance.now());
    },
  });
  const from = skipSteps === 0 ? started : (stamps[skipSteps - 1] as number);
  const seconds = ((stamps.at(-1) as number) - from) / 1000;
  // Skipping steps is for single-epoch runs of whole batches.
  const samples = skipSteps === 0 ? d.train.count * runEpochs : (losses.length - skipSteps) * batchSize;
  const trainAccuracy = accuracy(tf, model, d.train, d);
  optimizer.dispose();
  model.dispose();
  return { seconds, samplesPerSec: samples / seconds, trainAccuracy, losses };
}

/** Forward multiply-adds per example of the benchmark CNN, from its layers. */
function forwardMacs(tf: TF): number {
  const model = buildModel(tf, "cnn", data.inputShape, data.numClasses, seed);
  let macs = 0;
  for (const layer of model.layers) {
    const kernel = layer.getWeights()[0]?.shape;
    if (kernel === undefined) continue;
    const out = layer.outputShape as number[];
    if (layer.getClassName() === "Conv2D") {
      const [kh, kw, inC, outC] = kernel as [number, number, number, number];
      macs += (out[1] as number) * (out[2] as number) * outC * kh * kw * inC;
    } else if (layer.getClassName() === "Dense") {
      macs += (kernel[0] as number) * (kernel[1] as number);
    }
  }
  model.dispose();
  return macs;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

// --- wasm: the full run ---
const loadedWasm = await loadTf("wasm");
const wasmTf = loadedWasm.tf;
const trainFlops = 3 * 2 * forwardMacs(wasmTf); // forward + input gradient + weight gradient
log(
  `wasm (${loadedWasm.info.wasm?.threads ?? 1} threads): ${count} images x ${epochs} epochs, batch ${batchSize}, ${repeat} runs (load average ${loadavg()[0]?.toFixed(2)})`,
);
const wasmRuns: Run[] = [];
for (let r = 0; r < repeat; r++) {
  const run = await train(wasmTf, data, epochs);
  wasmRuns.push(run);
  log(`wasm run ${r + 1}/${repeat}: ${run.seconds.toFixed(2)} s, training accuracy ${run.trainAccuracy.toFixed(4)}`);
}
const wasm = [...wasmRuns].sort((a, b) => a.seconds - b.seconds)[Math.floor(repeat / 2)] as Run;
const inference500Ms = wasmTf.tidy(() => {
  const model = buildModel(wasmTf, "cnn", data.inputShape, data.numClasses, seed);
  const x = wasmTf.tensor(mnist.test.x.subarray(0, 500 * pixels), [500, ...data.inputShape]);
  const runs: number[] = [];
  for (let i = 0; i < 6; i++) {
    const t = performance.now();
    (model.predict(x) as tfTypes.Tensor).dataSync();
    if (i > 0) runs.push(performance.now() - t);
  }
  model.dispose();
  return median(runs);
});
// The first steps again, on exactly the batches the cpu backend gets, to compare their losses.
const stepData: ImageDataset = { ...data, train: first(data.train, (cpuSteps + 1) * batchSize) };
const wasmSteps = await train(wasmTf, stepData, 1);

// --- cpu: a few steps, scaled ---
const cpuTf = (await loadTf("cpu")).tf;
log(`cpu: ${cpuSteps + 1} steps (the first untimed)`);
const cpu = await train(cpuTf, stepData, 1, 1);
const cpuFullSeconds = (count * epochs) / cpu.samplesPerSec;
log(`cpu: ${(cpu.seconds / cpuSteps).toFixed(2)} s per step, ~${cpuFullSeconds.toFixed(0)} s for the full run`);
await loadTf("wasm");

// --- PyTorch ---
interface TorchRun {
  torch: string;
  threads: number;
  seconds: number;
  runs: number[];
  samplesPerSec: number;
  trainAccuracy: number;
  inference500Ms: number;
}
function runTorch(): TorchRun | { skipped: string } {
  if (process.argv.includes("--no-torch")) return { skipped: "--no-torch" };
  const candidates = process.env.PROVMARK_PYTHON ? [process.env.PROVMARK_PYTHON] : ["python3", "/usr/bin/python3"];
  const python = candidates.find((p) => spawnSync(p, ["-c", "import torch"], { stdio: "ignore" }).status === 0);
  if (python === undefined) return { skipped: `no Python with torch among ${candidates.join(", ")}` };
  const dir = mkdtempSync(join(tmpdir(), "provmark-bench-train-"));
  try {
    writeFileSync(join(dir, "x.f32"), data.train.x);
    writeFileSync(join(dir, "y.u8"), Uint8Array.from(data.train.y));
    const script = fileURLToPath(new URL("./bench-train-torch.py", import.meta.url));
    log(`torch: ${python}, ${threads} threads`);
    const args = [script, dir, "--epochs", `${epochs}`, "--batch", `${batchSize}`, "--threads", `${threads}`];
    args.push("--repeat", `${repeat}`);
    const r = spawnSync(python, args, { encoding: "utf8" });
    if (r.status !== 0) return { skipped: `bench-train-torch.py failed: ${r.stderr.trim().split("\n").at(-1)}` };
    return JSON.parse(r.stdout.trim().split("\n").at(-1) as string) as TorchRun;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const torch = runTorch();
const torchRun = "skipped" in torch ? undefined : torch;

// --- report ---
const gflops = (samplesPerSec: number) => (samplesPerSec * trainFlops) / 1e9;
const row = (name: string, sps: number, seconds: string, acc: string) =>
  `${name.padEnd(22)} ${sps.toFixed(1).padStart(10)} ${seconds.padStart(16)} ${gflops(sps).toFixed(2).padStart(9)}   ${acc}`;
const wasmOverCpu = wasm.samplesPerSec / cpu.samplesPerSec;
const wasmOverTorch = torchRun ? wasm.samplesPerSec / torchRun.samplesPerSec : undefined;
const lines = [
  "",
  `benchmark CNN, ${count} MNIST images x ${epochs} epochs, batch ${batchSize}, Adam; ${cpus().length} cores, load average ${loadavg()[0]?.toFixed(2)}`,
  `median of ${repeat} runs each; wasm runs ${wasmRuns.map((r) => r.seconds.toFixed(2)).join(", ")} s${torchRun ? `; torch runs ${torchRun.runs.map((t) => t.toFixed(2)).join(", ")} s` : ""}; wasm on ${loadedWasm.info.wasm?.threads ?? 1} threads`,
  `${"".padEnd(22)} ${"samples/s".padStart(10)} ${"time (full run)".padStart(16)} ${"GFLOP/s".padStart(9)}   train accuracy`,
  row("tfjs wasm", wasm.samplesPerSec, `${wasm.seconds.toFixed(2)} s`, wasm.trainAccuracy.toFixed(4)),
  row(
    `tfjs cpu (${cpuSteps} steps)`,
    cpu.samplesPerSec,
    `~${cpuFullSeconds.toFixed(0)} s`,
    `${cpu.trainAccuracy.toFixed(4)} after ${cpuSteps + 1} steps`,
  ),
  torchRun
    ? row(
        `PyTorch ${torchRun.torch} (${torchRun.threads}t)`,
        torchRun.samplesPerSec,
        `${torchRun.seconds.toFixed(2)} s`,
        torchRun.trainAccuracy.toFixed(4),
      )
    : `PyTorch: skipped (${(torch as { skipped: string }).skipped})`,
  "",
  `wasm / cpu:   ${wasmOverCpu.toFixed(1)}x (target >= 20x: ${wasmOverCpu >= 20 ? "met" : "NOT met"})`,
  wasmOverTorch === undefined
    ? "wasm / torch: n/a"
    : `wasm / torch: ${wasmOverTorch.toFixed(2)}x (target >= 0.5x: ${wasmOverTorch >= 0.5 ? "met" : "NOT met"})`,
  `inference, 500 images: wasm ${inference500Ms.toFixed(1)} ms${torchRun ? `, torch ${torchRun.inference500Ms.toFixed(1)} ms` : ""}`,
  `first ${cpuSteps + 1} losses, wasm: ${wasmSteps.losses.map((l) => l.toFixed(5)).join(" ")}`,
  `first ${cpuSteps + 1} losses, cpu:  ${cpu.losses.map((l) => l.toFixed(5)).join(" ")}`,
  `training FLOPs per example (3 x forward): ${(trainFlops / 1e6).toFixed(2)} M`,
];
process.stdout.write(`${lines.join("\n")}\n`);
process.stdout.write(
  `${JSON.stringify({
    examples: count,
    epochs,
    batchSize,
    trainMflopsPerExample: trainFlops / 1e6,
    loadAverage: loadavg()[0],
    repeat,
    wasm: {
      threads: loadedWasm.info.wasm?.threads ?? 1,
      samplesPerSec: wasm.samplesPerSec,
      seconds: wasm.seconds,
      runs: wasmRuns.map((r) => r.seconds),
      gflops: gflops(wasm.samplesPerSec),
      trainAccuracy: wasm.trainAccuracy,
      inference500Ms,
    },
    cpu: {
      samplesPerSec: cpu.samplesPerSec,
      timedSteps: cpuSteps,
      estimatedSeconds: cpuFullSeconds,
      gflops: gflops(cpu.samplesPerSec),
      trainAccuracyAfterSteps: cpu.trainAccuracy,
    },
    torch: torchRun ? { ...torchRun, gflops: gflops(torchRun.samplesPerSec) } : torch,
    ratios: { wasmOverCpu, wasmOverTorch: wasmOverTorch ?? null },
    targets: {
      wasmOverCpu20x: wasmOverCpu >= 20,
      wasmOverTorchHalf: wasmOverTorch === undefined ? null : wasmOverTorch >= 0.5,
    },
    firstLosses: { wasm: wasmSteps.losses, cpu: cpu.losses },
  })}\n`,
);
