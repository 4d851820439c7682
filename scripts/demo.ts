/**
 * `npm run demo`: the biggest end-to-end job provmark has today, run through the real CLI as a user
 * would: doctor → train an MLP on the built-in MNIST digits → hash it → inspect it. Writes only under
 * the data dir ($PROVMARK_HOME or ~/.provmark)/demo.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { dataDir } from "../src/config.js";

const bin = fileURLToPath(new URL("../bin/provmark.mjs", import.meta.url));
const out = join(dataDir(), "demo", "mnist-mlp-seed1");

function step(n: number, title: string, args: string[], json = false): unknown {
  process.stdout.write(`\n[${n}/4] ${title}\n$ provmark ${args.join(" ")}\n`);
  const r = spawnSync(process.execPath, [bin, ...args, ...(json ? ["--json"] : [])], {
    stdio: ["ignore", json ? "pipe" : "inherit", "inherit"],
    encoding: "utf8",
  });
  if (r.status !== 0) {
    if (json && r.stdout) process.stdout.write(r.stdout);
    process.stderr.write(`demo: step ${n} failed (exit ${r.status})\n`);
    process.exit(r.status ?? 1);
  }
  return json ? JSON.parse(r.stdout) : undefined;
}

const started = performance.now();
step(1, "Which TensorFlow.js backend and settings are in use", ["doctor"]);
const trained = step(
  2,
  "Train a reproducible MLP baseline on the 10,000 built-in MNIST digits",
  ["train", "--dataset", "mnist", "--arch", "mlp", "--seed", "1", "--out", out, "--force"],
  true,
) as { testAccuracy: number; trainSeconds: number; epochs: number; backend: string; testExamples: number };
process.stdout.write(
  `test accuracy ${(trained.testAccuracy * 100).toFixed(2)}% on ${trained.testExamples} held-out digits ` +
    `after ${trained.epochs} epochs in ${trained.trainSeconds.toFixed(1)} s (${trained.backend} backend)\n`,
);
step(3, "Content digests of the release: files digest and canonical weights digest", ["hash", out]);
step(4, "What the model is made of", ["inspect", out]);
process.stdout.write(`\ndemo finished in ${((performance.now() - started) / 1000).toFixed(1)} s; model at ${out}\n`);
