/**
 * `npm run bench:robustness`: the robustness lab on the built-in MNIST digits. Trains a baseline of
 * the chosen architecture, embeds both watermarks with a fresh key (64 bits in `dense1`, which both
 * the MLP and the CNN have), runs every attack family's default grid, trains a bank of unmarked
 * models, and writes results.json + report.html; prints a summary on stdout.
 * Options: --arch mlp|cnn (default mlp), --quick (small grid), --null-models N (default 20),
 * --null-epochs N (default: per arch), --families a,b,... (default all), --out DIR (default a temp dir).
 * The null bank mixes architectures: mlp and mlp-small for an MLP victim; cnn, mlp and mlp-small for
 * a CNN victim.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { imageParams } from "../src/core/watermark/params.js";
import { ATTACK_FAMILIES, type AttackFamily } from "../src/lab/lab-types.js";
import { fmtLog10P } from "../src/lab/report-html.js";
import { runLab } from "../src/lab/run-lab.js";
import type { Arch } from "../src/model/archs.js";
import { loadTf } from "../src/model/backend.js";
import { trainModel } from "../src/model/train-model.js";
import { embedWatermark } from "../src/watermark/embed.js";
import { generateKey } from "../src/watermark/keygen.js";

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const quick = process.argv.includes("--quick");
const arch = arg("--arch") ?? "mlp";
if (arch !== "mlp" && arch !== "cnn") {
  process.stderr.write(`--arch must be mlp or cnn, not ${JSON.stringify(arch)}\n`);
  process.exit(2);
}
const nullArchs: Arch[] = arch === "cnn" ? ["cnn", "mlp", "mlp-small"] : ["mlp", "mlp-small"];
const nullModels = Number(arg("--null-models") ?? 20);
const nullEpochs = arg("--null-epochs") === undefined ? undefined : Number(arg("--null-epochs"));
const families = (arg("--families")?.split(",") ?? ATTACK_FAMILIES) as AttackFamily[];
const dir = arg("--out") ?? mkdtempSync(join(tmpdir(), "provmark-bench-robustness-"));
const log = (m: string) => process.stderr.write(`${m}\n`);
const started = performance.now();

const { info } = await loadTf();
log(`backend ${info.backend}; working in ${dir}`);
const base = await trainModel({
  dataset: "mnist",
  arch,
  out: join(dir, "baseline"),
  seed: 1,
  backend: "auto",
  force: true,
});
log(`baseline (${arch}): ${(base.testAccuracy * 100).toFixed(2)}% in ${base.trainSeconds.toFixed(1)} s`);
const key = await generateKey(
  imageParams({
    classes: 10,
    inputShape: [28, 28, 1],
    // The first hidden dense layer: 784 carrier inputs in the MLP, 800 (5×5×32 flattened) in the CNN.
    layer: "dense1",
    bits: 64,
    triggers: 100,
    family: "noise",
    stampStrength: 0.3,
  }),
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
log(`embedded in ${marked.embedSeconds.toFixed(1)} s: acc ${((marked.markedAccuracy ?? 0) * 100).toFixed(2)}%`);
const r = await runLab({
  model: join(dir, "marked"),
  key,
  dataset: "mnist",
  out: join(dir, "lab"),
  force: true,
  families,
  quick,
  ...(nullModels > 0
    ? {
        nullBank: {
          models: nullModels,
          archs: nullArchs,
          ...(nullEpochs === undefined ? {} : { epochs: nullEpochs }),
        },
      }
    : {}),
  backend: "auto",
  onProgress: log,
});

const pad = (s: string, n: number) => s.padEnd(n);
const lines = [
  `robustness lab on MNIST (${r.victimArch}, training lr ${r.trainLearningRate}), backend ${r.backend}, α ${r.alpha}, ${((performance.now() - started) / 60000).toFixed(1)} min in all`,
  `marked: acc ${(r.baseline.accuracy * 100).toFixed(2)}%, trigger p ${fmtLog10P(r.baseline.triggerLog10PValue)}, weight p ${fmtLog10P(r.baseline.weightLog10PValue)}`,
  "",
  `${pad("attack", 52)} ${pad("acc %", 7)} ${pad("drop pp", 8)} ${pad("trig", 7)} ${pad("trigger p", 10)} ${pad("bits", 6)} ${pad("weight p", 10)} result`,
  ...r.rows.map(
    (x) =>
      `${pad(`${x.family}: ${x.attack}`, 52)} ${pad((x.accuracy * 100).toFixed(2), 7)} ${pad(x.accuracyDropPp.toFixed(2), 8)} ${pad(`${x.triggerMatches}/${x.triggers}`, 7)} ${pad(fmtLog10P(x.triggerLog10PValue), 10)} ${pad(`${x.weightBitErrors ?? "-"}/${x.weightBits}`, 6)} ${pad(fmtLog10P(x.weightLog10PValue), 10)} ${x.removed ? "REMOVED" : x.verdict === "watermarked" ? "survived" : "missed α, model ruined"}`,
  ),
  "",
  "targets (survive = p <= 1e-6 with <= 5 pp accuracy kept):",
  ...r.targets.map((t) => `  ${t.met === null ? "not run" : t.met ? "MET    " : "NOT MET"}  ${t.target}`),
];
if (r.nullBank !== undefined) {
  const s = r.nullBank.summary;
  lines.push(
    "",
    `null bank: ${s.models} models (${s.archs.join(", ")}); false match rate mean ${s.meanFalseMatchRate.toFixed(3)}, max ${s.maxFalseMatchRate.toFixed(3)} (expected ${s.expectedMatchRate.toFixed(3)})`,
    `  smallest p: trigger ${fmtLog10P(s.minTriggerLog10PValue)}, weight ${fmtLog10P(s.minWeightLog10PValue)}, combined ${fmtLog10P(s.minCombinedLog10PValue)}; at 1e-6: ${s.atAlpha["1e-6"]}, at 1e-3: ${s.atAlpha["1e-3"]}`,
    `  trigger matches: ${JSON.stringify(s.triggerMatchHistogram)}; bit errors: ${JSON.stringify(s.bitErrorHistogram)}`,
  );
}
lines.push("", `report: ${join(dir, "lab", "report.html")}`);
process.stdout.write(`${lines.join("\n")}\n`);
