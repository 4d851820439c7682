/**
 * `npm run bench:watermark`: the watermark targets on the built-in MNIST digits, printed as JSON.
 * Trains a baseline (MLP, or with --arch cnn the LeNet-style CNN), embeds both watermarks with a
 * fresh key, verifies the marked model, and verifies a bank of independently trained unmarked models
 * (two or three architectures, other seeds) against the same key to look for false positives.
 * Options: --arch mlp|cnn (default mlp), --null-models N (default 10), --null-epochs N (default: each
 * architecture's default), --family noise|stamp|mixed (default noise), --out DIR (default a temp dir).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { imageParams, type TriggerFamily } from "../src/core/watermark/params.js";
import type { Arch } from "../src/model/archs.js";
import { loadTf } from "../src/model/backend.js";
import { trainModel } from "../src/model/train-model.js";
import { embedWatermark } from "../src/watermark/embed.js";
import { generateKey } from "../src/watermark/keygen.js";
import { verifyModel } from "../src/watermark/verify.js";

// The user's own model and data: a separate script (scripts/bench-watermark-model.ts).
if (process.argv.includes("--model") || process.argv.some((a) => a.startsWith("csv:"))) {
  await import("./bench-watermark-model.js");
  process.exit(0);
}
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const nullModels = Number(arg("--null-models") ?? 10);
const nullEpochs = arg("--null-epochs") === undefined ? undefined : Number(arg("--null-epochs"));
const family = (arg("--family") ?? "noise") as TriggerFamily;
const arch = (arg("--arch") ?? "mlp") as Arch;
if (arch !== "mlp" && arch !== "cnn") throw new Error(`--arch must be mlp or cnn, not ${arch}`);
// Unmarked models of the baseline's architecture and of others, alternating.
const nullArchs: Arch[] = arch === "cnn" ? ["cnn", "mlp", "mlp-small"] : ["mlp", "mlp-small"];
const dir = arg("--out") ?? mkdtempSync(join(tmpdir(), "provmark-bench-wm-"));
const log = (m: string) => process.stderr.write(`${m}\n`);

const { info } = await loadTf();
log(`backend ${info.backend}${info.wasm ? ` (${info.wasm.threads} threads)` : ""}, ${arch}; working in ${dir}`);
const base = await trainModel({
  dataset: "mnist",
  arch,
  out: join(dir, "baseline"),
  seed: 1,
  backend: "auto",
  force: true,
});
log(`baseline: ${(base.testAccuracy * 100).toFixed(2)}% in ${base.trainSeconds.toFixed(1)} s`);
const key = await generateKey(
  imageParams({
    classes: 10,
    inputShape: [28, 28, 1],
    layer: "dense1",
    bits: 64,
    triggers: 100,
    family,
    stampStrength: 0.3,
  }),
  "mnist",
);
const marked = await embedWatermark({
  model: join(dir, "baseline"),
  keyPath: "(bench key)",
  key,
  dataset: "mnist",
  out: join(dir, "marked"),
  force: true,
  backend: "auto",
});
log(`embedded in ${marked.embedSeconds.toFixed(1)} s`);
const v = await verifyModel({ model: join(dir, "marked"), key, keyPath: "(bench key)", backend: "auto" });

const bank = [];
for (let i = 0; i < nullModels; i++) {
  const nullArch = nullArchs[i % nullArchs.length] as Arch;
  const seed = 1000 + i;
  const out = join(dir, `null-${nullArch}-${seed}`);
  const t = await trainModel({
    dataset: "mnist",
    arch: nullArch,
    out,
    seed,
    backend: "auto",
    force: true,
    ...(nullEpochs === undefined ? {} : { epochs: nullEpochs }),
  });
  const r = await verifyModel({ model: out, key, keyPath: "(bench key)", backend: "auto" });
  bank.push({
    arch: nullArch,
    seed,
    testAccuracy: t.testAccuracy,
    triggerMatches: r.trigger.matches,
    triggerPValue: r.trigger.pValue,
    weightBitErrors: r.weight.applicable ? r.weight.bitErrors : null,
    weightPValue: r.weight.applicable ? r.weight.pValue : null,
    verdict: r.verdict,
  });
  log(
    `null ${i + 1}/${nullModels} (${nullArch}, seed ${seed}): ${r.trigger.matches}/100 triggers, verdict ${r.verdict}`,
  );
}
const nullPs = bank.flatMap((b) => [b.triggerPValue, ...(b.weightPValue === null ? [] : [b.weightPValue])]);
const weightP = v.weight.applicable ? v.weight.pValue : null;
const result = {
  backend: info.backend,
  wasmThreads: info.wasm?.threads ?? null,
  arch,
  family,
  baseline: { testAccuracy: base.testAccuracy, trainSeconds: base.trainSeconds },
  embed: {
    baselineAccuracy: marked.baselineAccuracy,
    markedAccuracy: marked.markedAccuracy,
    accuracyDropPp: (marked.accuracyDrop ?? 0) * 100,
    agreement: marked.agreement,
    triggerAccuracy: marked.triggerAccuracy,
    triggers: marked.triggers,
    bitErrors: marked.bitErrors,
    bits: marked.bits,
    epochs: marked.epochs,
    embedSeconds: marked.embedSeconds,
    embedToTrainRatio: marked.embedSeconds / base.trainSeconds,
  },
  verifyMarked: {
    verdict: v.verdict,
    triggerPValue: v.trigger.pValue,
    triggerLog10PValue: v.trigger.log10PValue,
    weightPValue: weightP,
    weightLog10PValue: v.weight.applicable ? v.weight.log10PValue : null,
  },
  nullBank: {
    models: bank,
    smallestPValue: nullPs.length === 0 ? null : Math.min(...nullPs),
    anyAtOrBelow1e3: nullPs.some((p) => p <= 1e-3),
  },
  targets: {
    accuracyDropAtMost0_5pp: (marked.accuracyDrop ?? 0) * 100 <= 0.5,
    triggerAccuracy100: marked.triggerAccuracy === 1,
    bitErrors0: marked.bitErrors === 0,
    triggerPAtMost1e30: v.trigger.log10PValue <= -30,
    weightPAtMost1e12: (v.weight.applicable ? v.weight.log10PValue : 0) <= -12,
    noNullAtOrBelow1e3: !nullPs.some((p) => p <= 1e-3),
    embedAtMost30PctOfTraining: marked.embedSeconds <= 0.3 * base.trainSeconds,
  },
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
