/**
 * `npm run bench:guard-overhead`: `provmark serve` alone, then `provmark serve --guard` (auth on, one
 * client key with a high rate limit, audit log on, no hooks), each loaded by autocannon with the same
 * MNIST-shaped TF Serving bodies at concurrency 16 for --seconds (default 10). Prints p50 and p99
 * latency, requests/s and the ratios (goal: p50 ≤ 1.15×, throughput ≥ 0.85×); then the guard with its
 * extraction defence on as well (PRADA monitor and DAWN at 0.5%, `--key`). --wait: the audit log's
 * `auditWaitForDisk: true` (each answer waits for its entry's fsync). --arch cnn: the CNN instead of
 * the MLP (more inference per request).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { imageParams } from "../src/core/watermark/params.js";
import { emptyKeysFile, newApiKey, newKeyId, writeKeysFile } from "../src/guard/keys-file.js";
import { type Arch, buildModel } from "../src/model/archs.js";
import { loadTf } from "../src/model/backend.js";
import { fileSaveHandler } from "../src/model/fs-io-handler.js";
import { writeKeyFile } from "../src/watermark/key-file.js";
import { generateKey } from "../src/watermark/keygen.js";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SECONDS = arg("--seconds", 10);
const CONCURRENCY = arg("--concurrency", 16);
const bin = fileURLToPath(new URL("../bin/provmark.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "provmark-bench-guard-"));
const log = (m: string) => process.stderr.write(`${m}\n`);

// An MNIST-shaped MLP (untrained: this measures the guard's transport cost, not accuracy).
const { tf } = await loadTf("wasm");
// --arch cnn: a model whose inference costs more per request, so the guard's fixed cost weighs less.
const ARCH = (process.argv.includes("--arch") ? process.argv[process.argv.indexOf("--arch") + 1] : "mlp") as Arch;
const model = buildModel(tf, ARCH, [28, 28, 1], 10, 1);
await model.save(fileSaveHandler(tf, join(dir, "model")));
model.dispose();

let s = 12345;
const pixel = () => {
  s = (s * 1103515245 + 12345) >>> 0;
  return Math.round(((s >>> 8) / 2 ** 24) * 255) / 255;
};
const bodies = Array.from({ length: 64 }, () => JSON.stringify({ instances: [Array.from({ length: 784 }, pixel)] }));

const { key, sha256 } = newApiKey();
await writeKeysFile(join(dir, "keys.json"), {
  ...emptyKeysFile(),
  keys: [
    {
      id: newKeyId(),
      name: "bench",
      role: "client",
      sha256,
      createdAt: new Date().toISOString(),
      rate: "100000/s",
      burst: 100000,
    },
  ],
});
// --wait: each answer waits until its audit entry is fsynced (auditWaitForDisk: true).
const WAIT = process.argv.includes("--wait");
writeFileSync(
  join(dir, "guard.json"),
  JSON.stringify({
    schema: "provmark/guard-config/v1",
    keysFile: "keys.json",
    auditLog: "audit.jsonl",
    auditWaitForDisk: WAIT,
  }),
);

// The owner's key for the defence run: its input description (28×28×1, pixel/255) and DAWN's keys.
const PASSPHRASE = "bench-guard-overhead";
const ownerKey = await generateKey(
  imageParams({
    classes: 10,
    inputShape: [28, 28, 1],
    layer: "dense1",
    bits: 16,
    triggers: 100,
    family: "noise",
    stampStrength: 0.3,
  }),
);
await writeKeyFile(join(dir, "owner.key"), ownerKey, PASSPHRASE);
writeFileSync(
  join(dir, "guard-defence.json"),
  JSON.stringify({
    schema: "provmark/guard-config/v1",
    keysFile: "keys.json",
    auditLog: "audit-defence.jsonl",
    auditWaitForDisk: WAIT,
    monitor: { action: "log" },
    dawn: { rate: 0.005, log: "dawn.log" },
  }),
);

async function start(extra: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [bin, "serve", "--model", join(dir, "model"), "--name", "m", "--port", "0", "--json", ...extra],
    {
      stdio: ["ignore", "pipe", "inherit"],
      env: {
        ...process.env,
        PROVMARK_BACKEND: process.env.PROVMARK_BACKEND ?? "wasm",
        PROVMARK_PASSPHRASE: PASSPHRASE,
      },
    },
  );
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  while (!out.includes("\n") || out.startsWith("{\n")) {
    if (child.exitCode !== null) throw new Error(`provmark serve exited: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url: JSON.parse(out.split("\n")[0] as string).url };
}

interface Figures {
  p50: number;
  p99: number;
  rps: number;
  non2xx: number;
  errors: number;
}

async function load(url: string, headers: Record<string, string>): Promise<Figures> {
  const r = await autocannon({
    url: `${url}/v1/models/m:predict`,
    connections: CONCURRENCY,
    duration: SECONDS,
    requests: bodies.map((body) => ({
      method: "POST" as const,
      body,
      headers: { "content-type": "application/json", ...headers },
    })),
  });
  return { p50: r.latency.p50, p99: r.latency.p99, rps: r.requests.average, non2xx: r.non2xx, errors: r.errors };
}

log(`serve alone, ${SECONDS} s at concurrency ${CONCURRENCY}…`);
const alone = await start([]);
const a = await load(alone.url, {});
alone.child.kill("SIGTERM");
log(`serve --guard (auth, audit log ${WAIT ? "fsynced before each answer" : "fsynced alongside answers"}, no hooks)…`);
const guarded = await start(["--guard", join(dir, "guard.json")]);
const g = await load(guarded.url, { authorization: `Bearer ${key}` });
guarded.child.kill("SIGTERM");
log("serve --guard with the extraction defence (PRADA monitor, DAWN 0.5%)…");
const defended = await start(["--guard", join(dir, "guard-defence.json"), "--key", join(dir, "owner.key")]);
const d = await load(defended.url, { authorization: `Bearer ${key}` });
defended.child.kill("SIGTERM");

const p50Ratio = g.p50 / a.p50;
const rpsRatio = g.rps / a.rps;
const dP50Ratio = d.p50 / a.p50;
const dRpsRatio = d.rps / a.rps;
const row = (name: string, f: Figures) =>
  `${name.padEnd(16)} p50 ${f.p50.toFixed(1).padStart(6)} ms  p99 ${f.p99.toFixed(1).padStart(6)} ms  ${f.rps.toFixed(0).padStart(6)} req/s  (non-2xx ${f.non2xx}, errors ${f.errors})`;
process.stdout.write(
  [
    row("serve", a),
    row("guard + serve", g),
    row("+ defence", d),
    `guard: p50 ratio ${p50Ratio.toFixed(2)} (goal ≤ 1.15: ${p50Ratio <= 1.15 ? "PASS" : "FAIL"}); ` +
      `throughput ratio ${rpsRatio.toFixed(2)} (goal ≥ 0.85: ${rpsRatio >= 0.85 ? "PASS" : "FAIL"})`,
    `guard + defence: p50 ratio ${dP50Ratio.toFixed(2)} (goal ≤ 1.15: ${dP50Ratio <= 1.15 ? "PASS" : "FAIL"}); ` +
      `throughput ratio ${dRpsRatio.toFixed(2)} (goal ≥ 0.85: ${dRpsRatio >= 0.85 ? "PASS" : "FAIL"})`,
    JSON.stringify({
      serve: a,
      guard: g,
      defence: d,
      p50Ratio,
      rpsRatio,
      defenceP50Ratio: dP50Ratio,
      defenceRpsRatio: dRpsRatio,
      arch: ARCH,
      seconds: SECONDS,
      concurrency: CONCURRENCY,
      auditWaitForDisk: WAIT,
    }),
    "",
  ].join("\n"),
);
