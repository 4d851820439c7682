/**
 * `npm run bench:hash`: hashes a generated >= 1 GiB TF.js model directory with `provmark hash` (files
 * digest and weights digest, one streaming pass) and with coreutils `sha256sum` over the same files, in
 * the same run, from a warm page cache; prints both throughputs and their ratio (target >= 0.9).
 * Options: --gib N (default 1), --runs N (default 2), --keep (leave the generated model).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const gib = arg("--gib", 1);
const runs = arg("--runs", 2);
const SHARD = 4 * 1024 * 1024;
const WEIGHT_FLOATS = 4 * 1024 * 1024; // 16 MiB per weight
const total = Math.ceil((gib * 1024 ** 3) / (WEIGHT_FLOATS * 4));

const dir = mkdtempSync(join(tmpdir(), "provmark-bench-hash-"));
process.stderr.write(`generating ${total} weights × 16 MiB (${gib} GiB) in ${dir}\n`);
const shardCount = (total * WEIGHT_FLOATS * 4) / SHARD;
const paths = Array.from({ length: shardCount }, (_, i) => `group1-shard${i + 1}of${shardCount}.bin`);
const floats = new Float32Array(SHARD / 4);
let x = 12345;
for (let s = 0; s < shardCount; s++) {
  for (let i = 0; i < floats.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    floats[i] = (x / 4294967296 - 0.5) * 0.2; // finite, weight-like values
  }
  writeFileSync(join(dir, paths[s] as string), new Uint8Array(floats.buffer));
}
const weights = Array.from({ length: total }, (_, i) => ({
  name: `layer${i}/kernel`,
  shape: [2048, 2048],
  dtype: "float32",
}));
writeFileSync(
  join(dir, "model.json"),
  JSON.stringify({
    format: "layers-model",
    modelTopology: { class_name: "Sequential", config: { layers: [] } },
    weightsManifest: [{ paths, weights }],
  }),
);
const files = readdirSync(dir).sort();
const bytes = files.reduce((a, f) => a + statSync(join(dir, f)).size, 0);

function time(cmd: string, args: string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { cwd: dir, stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} failed with ${r.status}`);
  return (performance.now() - t) / 1000;
}

spawnSync("cat", files, { cwd: dir, stdio: ["ignore", "ignore", "inherit"], maxBuffer: 1 << 30 }); // warm cache
const bin = fileURLToPath(new URL("../bin/provmark.mjs", import.meta.url));
const rows: { tool: string; seconds: number }[] = [];
for (let r = 0; r < runs; r++) {
  rows.push({ tool: "provmark hash", seconds: time(process.execPath, [bin, "hash", dir, "--json"]) });
  rows.push({ tool: "sha256sum", seconds: time("sha256sum", files) });
}
const best = (tool: string) => Math.min(...rows.filter((r) => r.tool === tool).map((r) => r.seconds));
const mibs = (s: number) => bytes / 1024 ** 2 / s;
const result = {
  bytes,
  files: files.length,
  runs: rows.map((r) => ({ ...r, mibPerSecond: Number(mibs(r.seconds).toFixed(1)) })),
  provmarkMiBps: Number(mibs(best("provmark hash")).toFixed(1)),
  sha256sumMiBps: Number(mibs(best("sha256sum")).toFixed(1)),
  ratio: Number((best("sha256sum") / best("provmark hash")).toFixed(2)),
  target: ">= 0.9",
  note: "provmark computes the files digest and the weights digest (with a NaN/Inf scan) in one pass; best of runs",
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
if (!process.argv.includes("--keep")) rmSync(dir, { recursive: true, force: true });
