import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { lab } from "../../src/cli/commands/lab.js";
import type { GlobalOptions } from "../../src/cli/program.js";
import { imageParams, type WatermarkParams } from "../../src/core/watermark/params.js";
import { isProvmarkError } from "../../src/errors.js";
import { type LabResult, REPORT_FILE, RESULTS_FILE, runLab } from "../../src/lab/run-lab.js";
import { loadTf } from "../../src/model/backend.js";
import { trainModel } from "../../src/model/train-model.js";
import { embedWatermark } from "../../src/watermark/embed.js";
import { writeKeyFile } from "../../src/watermark/key-file.js";
import { generateKey } from "../../src/watermark/keygen.js";
import { verifyModel } from "../../src/watermark/verify.js";
import { tempDir } from "../helpers/fixtures.js";
import { writeToyIdx } from "../helpers/idx.js";

const params: WatermarkParams = imageParams({
  classes: 3,
  inputShape: [8, 8, 1],
  layer: "dense1",
  bits: 32,
  triggers: 30,
  family: "noise",
  stampStrength: 0.3,
});
const key = await generateKey(params);

let dir: string;
let dataset: string;
let result: LabResult;
let tensorsBefore: number;
let tensorsAfter: number;
const progress: string[] = [];

beforeAll(async () => {
  dir = await tempDir();
  await mkdir(join(dir, "data"));
  await writeToyIdx(join(dir, "data"));
  dataset = `idx:${join(dir, "data")}`;
  await trainModel({ dataset, arch: "mlp", out: join(dir, "base"), seed: 1, epochs: 4, backend: "wasm" });
  await embedWatermark({
    model: join(dir, "base"),
    keyPath: "test-key",
    key,
    dataset,
    out: join(dir, "marked"),
    backend: "wasm",
    settings: { maxEpochs: 60 },
  });
  const { tf } = await loadTf("wasm");
  tensorsBefore = tf.memory().numTensors;
  result = await runLab({
    model: join(dir, "marked"),
    key,
    dataset,
    out: join(dir, "lab"),
    families: ["finetune", "prune", "fineprune", "quantize", "noise", "input", "distill", "overwrite"],
    quick: true,
    gridOptions: { finetuneEpochs: 2, distillEpochs: 8, overwriteMaxEpochs: 30 },
    nullBank: { models: 4, epochs: 4 },
    backend: "wasm",
    onProgress: (m) => progress.push(m),
  });
  tensorsAfter = tf.memory().numTensors;
});

describe("robustness lab on a tiny model", () => {
  it("leaks no tensor (models, optimizers, batches all disposed)", () => {
    expect(tensorsAfter).toBe(tensorsBefore);
  });

  it("scores the marked model like verifyModel does", async () => {
    const v = await verifyModel({ model: join(dir, "marked"), key, keyPath: "k", backend: "wasm" });
    expect(result.baseline.verdict).toBe(v.verdict);
    expect(result.baseline.triggerLog10PValue).toBeCloseTo(v.trigger.log10PValue, 9);
    expect(result.baseline.weightLog10PValue).toBeCloseTo(v.weight.applicable ? v.weight.log10PValue : 0, 9);
  });

  it("has one row per setting of every family, each with both numbers and the removal rule", () => {
    expect(result.schema).toBe("provmark/robustness/v1");
    expect(new Set(result.rows.map((r) => r.family))).toEqual(
      new Set(["finetune", "prune", "fineprune", "quantize", "noise", "input", "distill", "overwrite"]),
    );
    for (const r of result.rows) {
      expect(r.accuracy).toBeGreaterThanOrEqual(0);
      expect(r.triggerLog10PValue).toBeLessThanOrEqual(0);
      expect(r.accuracyDropPp).toBeCloseTo((result.baseline.accuracy - r.accuracy) * 100, 9);
      expect(r.removed).toBe(r.verdict !== "watermarked" && r.accuracyDropPp <= 5);
    }
    expect(progress.length).toBeGreaterThan(result.rows.length);
  });

  it("keeps the mark through mild attacks and loses it where it must", () => {
    const row = (attack: string) => {
      const r = result.rows.find((x) => x.attack === attack);
      if (r === undefined) throw new Error(`no row ${attack}: ${result.rows.map((x) => x.attack).join("; ")}`);
      return r;
    };
    expect(row("float16")).toMatchObject({ verdict: "watermarked", weightBitErrors: 0, triggerMatches: 30 });
    expect(row("uint8 affine (TF.js)").verdict).toBe("watermarked");
    expect(row("global prune 30%").verdict).toBe("watermarked");
    // A surrogate of another architecture has its own first layer: the weight mark cannot carry over.
    const distill = result.rows.filter((r) => r.family === "distill");
    for (const d of distill) expect(d.weightLog10PValue ?? 0).toBeGreaterThan(-6);
    // Input transforms leave the weights alone and are judged on the trigger test only.
    for (const r of result.rows.filter((x) => x.family === "input")) expect(r.tests).toBe("trigger");
  });

  it("calibrates against a bank of unmarked models", () => {
    const nb = result.nullBank;
    expect(nb?.models).toHaveLength(4);
    expect(new Set(nb?.models.map((m) => m.arch))).toEqual(new Set(["mlp", "mlp-small"]));
    expect(nb?.summary.atAlpha["1e-6"]).toBe(0);
    expect(nb?.summary.maxFalseMatchRate).toBeLessThan(0.8);
  });

  it("writes results.json and a self-contained HTML report", async () => {
    const json = JSON.parse(await readFile(join(dir, "lab", RESULTS_FILE), "utf8"));
    expect(json.rows).toHaveLength(result.rows.length);
    const html = await readFile(join(dir, "lab", REPORT_FILE), "utf8");
    expect(html).toContain("<svg");
    expect(html).toContain("Null-model bank");
    expect(html).not.toMatch(/<script|src=|href=/);
  });

  it("runs from the CLI command with --attacks and --json, and refuses unknown families", async () => {
    const keyPath = join(dir, "release.key");
    await writeKeyFile(keyPath, key, "correct horse battery");
    vi.stubEnv("PROVMARK_PASSPHRASE", "correct horse battery");
    const globals = { backend: "wasm" } as GlobalOptions;
    const base = { model: join(dir, "marked"), key: keyPath, dataset, json: true };
    let out = "";
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      out += String(chunk);
      return true;
    });
    try {
      await lab({ ...base, out: join(dir, "lab-cli"), attacks: "quantize,noise", quick: true }, globals);
    } finally {
      spy.mockRestore();
      vi.unstubAllEnvs();
    }
    const r = JSON.parse(out) as LabResult;
    expect(new Set(r.rows.map((x) => x.family))).toEqual(new Set(["quantize", "noise"]));
    const err = await lab({ ...base, out: join(dir, "lab-bad"), attacks: "prune,melt" }, globals).catch((e) => e);
    expect(isProvmarkError(err, "USAGE")).toBe(true);
    expect((err as Error).message).toMatchInlineSnapshot(`"unknown attack family: melt"`);
  });
});
