/**
 * `npm run bench:check`: what the runtime guard costs. Writes a ~100 MiB TF.js LayersModel (random
 * float32 weights in 5 shards) to a temp dir, registers it on a fresh embedded ledger, then times, from
 * a warm page cache, (a) hashing alone (`hashModel`) and (b) `assertRegistered` with an owner (hash +
 * open the chain + owner-checked lookup), and prints both and the overhead of (b) over (a).
 * Options: --mib N (default 100), --runs N (default 5), --json, --keep (leave the temp dirs).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashModel } from "../src/model/hash-model.js";
import { assertRegistered } from "../src/release/check-model.js";
import { registerRelease } from "../src/release/register-release.js";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const mib = arg("--mib", 100);
const runs = arg("--runs", 5);
const json = process.argv.includes("--json");
const WEIGHT_FLOATS = 1024 * 1024; // 4 MiB per weight
const weightsCount = Math.max(1, Math.round(mib / 4));
const perShard = Math.max(1, Math.ceil(weightsCount / 5)); // several shards, as converters write them

// the bench must not pick up the user's chain, key or owner
process.env.PROVMARK_PRIVATE_KEY = "";
process.env.PROVMARK_REGISTRY = "";
process.env.PROVMARK_REQUIRE_OWNER = "";

const model = mkdtempSync(join(tmpdir(), "provmark-bench-check-model-"));
const home = mkdtempSync(join(tmpdir(), "provmark-bench-check-home-"));
process.stderr.write(`generating ${weightsCount} weights × 4 MiB (${weightsCount * 4} MiB) in ${model}\n`);
const floats = new Float32Array(WEIGHT_FLOATS * perShard);
const paths: string[] = [];
let x = 2463534242;
for (let done = 0, s = 0; done < weightsCount; s++) {
  const n = Math.min(perShard, weightsCount - done);
  for (let i = 0; i < n * WEIGHT_FLOATS; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    floats[i] = (x / 4294967296 - 0.5) * 0.2;
  }
  paths.push(`group1-shard${s + 1}of${Math.ceil(weightsCount / perShard)}.bin`);
  writeFileSync(join(model, paths[s] as string), new Uint8Array(floats.buffer, 0, n * WEIGHT_FLOATS * 4));
  done += n;
}
const weights = Array.from({ length: weightsCount }, (_, i) => ({
  name: `dense_${i}/kernel`,
  shape: [1024, 1024],
  dtype: "float32",
}));
writeFileSync(
  join(model, "model.json"),
  JSON.stringify({
    format: "layers-model",
    generatedBy: "provmark bench-check",
    modelTopology: { class_name: "Sequential", config: { layers: [] } },
    weightsManifest: [{ paths, weights }],
  }),
);

process.stderr.write("registering on a fresh embedded ledger\n");
const reg = await registerRelease({
  model,
  name: "bench-check",
  ledger: { dataDir: home, rpcUrl: null },
  store: { mode: "embedded", blockstoreDir: join(home, "ipfs") },
});
const owner = reg.owner;

for (const p of paths) readFileSync(join(model, p)); // warm the page cache

const seconds = async (f: () => Promise<unknown>) => {
  const t = performance.now();
  await f();
  return (performance.now() - t) / 1000;
};
const hashTimes: number[] = [];
const guardTimes: number[] = [];
for (let r = 0; r < runs; r++) {
  // interleaved, so drift (thermal, a neighbour's load) hits both alike
  hashTimes.push(await seconds(() => hashModel(model)));
  guardTimes.push(await seconds(() => assertRegistered(model, { dataDir: home, rpcUrl: "", owner })));
}
const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const mibTotal = reg.manifest.model.totalBytes / 1024 ** 2;
const result = {
  modelMiB: Number(mibTotal.toFixed(1)),
  shards: paths.length,
  runs,
  hashSeconds: { median: median(hashTimes), min: Math.min(...hashTimes), all: hashTimes },
  assertRegisteredSeconds: { median: median(guardTimes), min: Math.min(...guardTimes), all: guardTimes },
  overheadSeconds: median(guardTimes) - median(hashTimes),
  overheadRatio: median(guardTimes) / median(hashTimes),
  hashMiBPerSecond: mibTotal / median(hashTimes),
};
if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
else {
  const f = (s: number) => `${s.toFixed(3)} s`;
  process.stdout.write(
    [
      `model: ${result.modelMiB} MiB in ${result.shards} shards; ${runs} runs each, warm cache (median, min)`,
      `  (a) hashModel:                   ${f(result.hashSeconds.median)}  ${f(result.hashSeconds.min)}  (${result.hashMiBPerSecond.toFixed(0)} MiB/s)`,
      `  (b) assertRegistered({ owner }): ${f(result.assertRegisteredSeconds.median)}  ${f(result.assertRegisteredSeconds.min)}`,
      `  overhead of (b) over (a):        ${f(result.overheadSeconds)} (×${result.overheadRatio.toFixed(2)})`,
    ].join("\n") + "\n",
  );
}
if (!process.argv.includes("--keep")) {
  rmSync(model, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
}
