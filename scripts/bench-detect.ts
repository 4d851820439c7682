/**
 * `npm run bench:detect`: 2,000 queries against a local `provmark serve` at concurrency 16, sent by
 * `provmark detect` (journal, bodies, retries, verdict, evidence) and, in the same run, by a bare load
 * generator (autocannon) replaying the very same request bodies. Prints both rates, their ratio
 * (target <= 1.25) and the peak memory of the detect process; then times `provmark evidence verify` of
 * that report (target < 2 s), which re-checks every VRF proof, body, answer and request.
 * Options: --queries N (default 2000), --concurrency N (default 16), --batch N (default 1),
 * --triggers N (trigger set size, default 100 as keygen makes for 10 classes: a run uses half of them, the rest of the queries are decoys).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { buildCertificate } from "../src/core/watermark/certificate.js";
import { imageParams } from "../src/core/watermark/params.js";
import { deriveTriggers } from "../src/core/watermark/triggers.js";
import { buildModel } from "../src/model/archs.js";
import { loadTf } from "../src/model/backend.js";
import { fileSaveHandler } from "../src/model/fs-io-handler.js";
import { writeKeyFile } from "../src/watermark/key-file.js";
import { generateKey } from "../src/watermark/keygen.js";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const QUERIES = arg("--queries", 2000);
const CONCURRENCY = arg("--concurrency", 16);
const BATCH = arg("--batch", 1);
const TRIGGERS = arg("--triggers", 100);
const bin = fileURLToPath(new URL("../bin/provmark.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "provmark-bench-detect-"));
const log = (m: string) => process.stderr.write(`${m}\n`);
const passphrase = "bench-detect-passphrase";

// A served MNIST-shaped MLP (untrained: this measures transport, not accuracy) and a key for it.
const { tf } = await loadTf();
const model = buildModel(tf, "mlp", [28, 28, 1], 10, 1);
await model.save(fileSaveHandler(tf, join(dir, "model")));
model.dispose();
const key = await generateKey(
  imageParams({
    classes: 10,
    inputShape: [28, 28, 1],
    layer: "dense1",
    bits: 16,
    triggers: TRIGGERS,
    family: "noise",
    stampStrength: 0.3,
  }),
);
await writeKeyFile(join(dir, "bench.key"), key, passphrase);
// The certificate's trigger commitment is real; its weight-mark part is a placeholder (unused here).
const cert = buildCertificate({
  key,
  triggers: deriveTriggers(key),
  projection: new Float32Array(16 * 8),
  message: new Uint8Array(16),
  carrierLength: 8,
  weightsDigest: "0".repeat(64),
  createdAt: new Date(),
  tool: "bench-detect",
});
writeFileSync(join(dir, "certificate.json"), JSON.stringify(cert));

const env = {
  ...process.env,
  PROVMARK_PASSPHRASE: passphrase,
  PROVMARK_BACKEND: process.env.PROVMARK_BACKEND ?? "wasm",
};
const server = spawn(
  process.execPath,
  [bin, "serve", "--model", join(dir, "model"), "--port", "0", "--name", "m", "--json"],
  {
    stdio: ["ignore", "pipe", "inherit"],
    env,
  },
);
const url = await new Promise<string>((resolve, reject) => {
  let buf = "";
  server.stdout?.on("data", (d) => {
    buf += d;
    if (buf.includes("\n")) resolve((JSON.parse(buf.slice(0, buf.indexOf("\n"))) as { url: string }).url);
  });
  server.once("exit", (c) => reject(new Error(`serve exited ${c}`)));
});
log(`serving at ${url}; working in ${dir}`);

// provmark detect, as a user runs it; its peak RSS (VmHWM) is sampled from /proc.
const RUN = Math.ceil(TRIGGERS / 2);
const ratio = QUERIES / RUN - 1;
const detectArgs = [
  "--data-dir",
  join(dir, "home"),
  "detect",
  "--endpoint",
  url,
  "--model-name",
  "m",
  "--key",
  join(dir, "bench.key"),
  "--cert",
  join(dir, "certificate.json"),
  "--decoy-ratio",
  String(ratio),
  "--concurrency",
  String(CONCURRENCY),
  "--batch-size",
  String(BATCH),
  "--report",
  join(dir, "report"),
  "--json",
];
const started = performance.now();
const child = spawn(process.execPath, [bin, ...detectArgs], {
  stdio: ["ignore", "pipe", "inherit"],
  env,
});
let out = "";
child.stdout?.on("data", (d) => (out += d));
let peakKb = 0;
const poll = setInterval(() => {
  try {
    const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
    const hwm = /VmHWM:\s+(\d+)/.exec(status);
    if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
  } catch {
    // exited
  }
}, 50);
const code = await new Promise<number>((resolve) => child.once("exit", (c) => resolve(c ?? -1)));
clearInterval(poll);
const wallSeconds = (performance.now() - started) / 1000;
const result = JSON.parse(out) as { verdict: string; n: number; reportPath: string };
const report = JSON.parse(readFileSync(result.reportPath, "utf8")) as {
  stats: { requests: number; seconds: number };
  queries: { requestSha256: string | null; startedAt: string | null }[];
};
const detectSeconds = report.stats.seconds;

// The same request bodies, replayed by autocannon at the same concurrency.
// one body per request detect sent, in order (decoys repeat, so bodies repeat too): a request is the
// run of consecutive queries sharing a request hash and start time (with --batch 1, each query)
const bodies: string[] = [];
let last = "";
for (const q of report.queries) {
  if (q.requestSha256 === null) continue;
  const key = `${q.requestSha256}/${q.startedAt}`;
  if (BATCH > 1 && key === last) continue;
  last = key;
  bodies.push(readFileSync(join(dir, "report", "bodies", q.requestSha256), "utf8"));
}
const ac = await autocannon({
  url: `${url}/v1/models/m:predict`,
  connections: CONCURRENCY,
  amount: bodies.length,
  requests: bodies.map((body) => ({ method: "POST" as const, body, headers: { "content-type": "application/json" } })),
});
server.kill();
const acSeconds = ac.duration;
const rows = [
  ["", "requests", "queries", "seconds", "queries/s"],
  [
    "provmark detect (query phase)",
    String(report.stats.requests),
    String(QUERIES),
    detectSeconds.toFixed(2),
    (QUERIES / detectSeconds).toFixed(0),
  ],
  ["provmark detect (whole process)", "", "", wallSeconds.toFixed(2), (QUERIES / wallSeconds).toFixed(0)],
  [
    "autocannon (same bodies)",
    String(ac.requests.total),
    String(ac.requests.total * BATCH),
    acSeconds.toFixed(2),
    ((ac.requests.total * BATCH) / acSeconds).toFixed(0),
  ],
];
for (const r of rows)
  process.stdout.write(
    `${r[0]?.padEnd(34)}${r
      .slice(1)
      .map((c) => c.padStart(11))
      .join("")}\n`,
  );
// The auditor's side: re-check the whole report without the key.
const verifyStarted = performance.now();
const verify = spawn(process.execPath, [bin, "evidence", "verify", join(dir, "report"), "--json"], {
  stdio: ["ignore", "pipe", "inherit"],
  env,
});
let verifyOut = "";
verify.stdout?.on("data", (d) => (verifyOut += d));
const verifyCode = await new Promise<number>((resolve) => verify.once("exit", (c) => resolve(c ?? -1)));
const verifySeconds = (performance.now() - verifyStarted) / 1000;
const verified = JSON.parse(verifyOut) as { ok: boolean };
const summary = {
  queries: QUERIES,
  concurrency: CONCURRENCY,
  batch: BATCH,
  detect: {
    exit: code,
    verdict: result.verdict,
    requests: report.stats.requests,
    querySeconds: detectSeconds,
    wallSeconds,
    peakRssMiB: peakKb / 1024,
  },
  autocannon: { requests: ac.requests.total, errors: ac.errors, non2xx: ac.non2xx, seconds: acSeconds },
  ratio: detectSeconds / acSeconds,
  target: "<= 1.25",
  pass: detectSeconds / acSeconds <= 1.25,
  evidenceVerify: {
    exit: verifyCode,
    valid: verified.ok,
    triggers: RUN,
    seconds: verifySeconds,
    target: "< 2 s",
    pass: verifySeconds < 2,
  },
};
process.stdout.write(
  `ratio detect/autocannon: ${summary.ratio.toFixed(2)} (target <= 1.25: ${summary.pass ? "PASS" : "FAIL"}); detect peak RSS ${summary.detect.peakRssMiB.toFixed(0)} MiB\nevidence verify of the ${QUERIES}-query report (${RUN} triggers): ${verifySeconds.toFixed(2)} s, ${verified.ok ? "VALID" : "INVALID"} (target < 2 s: ${summary.evidenceVerify.pass ? "PASS" : "FAIL"})\n${JSON.stringify(summary)}\n`,
);
