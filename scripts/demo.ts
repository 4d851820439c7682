/**
 * `npm run demo`: the biggest end-to-end job provmark has today, run through the real CLI as a user
 * would: train a baseline on the built-in MNIST digits → make a watermark key → embed both
 * watermarks → verify the marked model and the unmarked baseline → hash and inspect the release.
 * Writes only under the data dir ($PROVMARK_HOME or ~/.provmark)/demo.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { dataDir } from "../src/config.js";

const bin = fileURLToPath(new URL("../bin/provmark.mjs", import.meta.url));
const dir = join(dataDir(), "demo");
const base = join(dir, "mnist-mlp-seed1");
const key = join(dir, "demo.key");
const marked = join(dir, "mnist-mlp-marked");
// The demo's key is throwaway; real keys take the passphrase from a secret store or the prompt.
const env = { ...process.env, PROVMARK_PASSPHRASE: process.env.PROVMARK_PASSPHRASE || "provmark-demo-passphrase" };
const STEPS = 7;

function step(n: number, title: string, args: string[], opts: { json?: boolean; exit?: number } = {}): unknown {
  process.stdout.write(`\n[${n}/${STEPS}] ${title}\n$ provmark ${args.join(" ")}\n`);
  const r = spawnSync(process.execPath, [bin, ...args, ...(opts.json ? ["--json"] : [])], {
    stdio: ["ignore", opts.json ? "pipe" : "inherit", "inherit"],
    encoding: "utf8",
    env,
  });
  if (r.status !== (opts.exit ?? 0)) {
    if (opts.json && r.stdout) process.stdout.write(r.stdout);
    process.stderr.write(`demo: step ${n} failed (exit ${r.status})\n`);
    process.exit(r.status === 0 ? 1 : (r.status ?? 1));
  }
  return opts.json ? JSON.parse(r.stdout) : undefined;
}

const started = performance.now();
step(1, "Which TensorFlow.js backend and settings are in use", ["doctor"]);
const trained = step(
  2,
  "Train a reproducible MLP baseline on the 10,000 built-in MNIST digits",
  ["train", "--dataset", "mnist", "--arch", "mlp", "--seed", "1", "--out", base, "--force"],
  { json: true },
) as { testAccuracy: number; trainSeconds: number; epochs: number; backend: string; testExamples: number };
process.stdout.write(
  `test accuracy ${(trained.testAccuracy * 100).toFixed(2)}% on ${trained.testExamples} held-out digits ` +
    `after ${trained.epochs} epochs in ${trained.trainSeconds.toFixed(1)} s (${trained.backend} backend)\n`,
);
step(3, "Make a watermark key (encrypted, mode 0600)", ["keygen", "--out", key, "--force"]);
step(4, "Embed the weight and trigger-set watermarks by fine-tuning", [
  "embed",
  "--model",
  base,
  "--key",
  key,
  "--dataset",
  "mnist",
  "--out",
  marked,
  "--force",
]);
step(5, "Verify the marked model (exit 0: watermarked)", ["verify", "--model", marked, "--key", key]);
step(6, "Verify the unmarked baseline (exit 3: not detected)", ["verify", "--model", base, "--key", key], { exit: 3 });
step(7, "Content digests of the release", ["hash", marked]);
process.stdout.write(
  `\ndemo finished in ${((performance.now() - started) / 1000).toFixed(1)} s; files in ${dir}\n` +
    `(the certificate to publish is ${join(marked, "watermark-certificate.json")})\n`,
);
