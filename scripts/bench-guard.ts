/**
 * `npm run bench:guard`: does the guard's DAWN log catch models extracted through the owner's API,
 * and only those? MNIST MLP and CNN victims run behind `provmark serve` with the guard in front (PRADA
 * monitor on, action "log"; DAWN at rate r). A thief (`extractSurrogate`, the code of `provmark attack
 * extract`) trains surrogates through the guarded API and through an unguarded copy; 20+ benign
 * clients send natural digits; ≥ 10 independently trained models stand for innocent suspects. Each
 * surrogate and innocent is tested with `dawnDetect` (the code of `provmark detect --dawn-log`).
 * Prints a table and, with --json, one JSON document on stdout.
 *
 * Options: --victims mlp,cnn  --strategies natural,jbda  --answers labels,probabilities
 *          --queries 5000,20000  --archs same,other  --rate 0.005  --innocents 10  --benign 20
 *          --benign-queries 400  --unguarded all|smallest|first|none  --budgets 1000,2000,3000 (smallest budget)
 *          --epochs N (the thief's)  --pool all|test (mnist: the thief's digits)  --thief-data mnist|idx:/usr/share/datasets/fashion-mnist  --dir <dir>  --json
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex } from "../src/core/digest/bytes.js";
import { PRADA_DEFAULT_DELTA } from "../src/core/guard/prada.js";
import { legacyModelIO } from "../src/core/input/model-io.js";
import { keyCommitment } from "../src/core/keys/derive.js";
import { createRng, permutation } from "../src/core/rng.js";
import { dawnDetect } from "../src/detect/dawn-detect.js";
import { openDawnLogWriter, readDawnLog } from "../src/guard/dawn-log.js";
import { createExtractionDefence } from "../src/guard/extraction-defence.js";
import { parseGuardConfig } from "../src/guard/guard-config.js";
import { startGuard } from "../src/guard/guard-server.js";
import { newApiKey, newKeyId, writeKeysFile } from "../src/guard/keys-file.js";
import { type ExtractAnswers, type ExtractStrategy, extractSurrogate } from "../src/lab/extract.js";
import type { Arch } from "../src/model/archs.js";
import { backendChoice } from "../src/model/backend.js";
import { loadDataset } from "../src/model/datasets/index.js";
import { trainModel } from "../src/model/train-model.js";
import { startModelServer } from "../src/serve/model-server.js";

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? (argv[i + 1] as string) : dflt;
};
const list = (name: string, dflt: string) =>
  opt(name, dflt)
    .split(",")
    .filter((s) => s !== "");
const VICTIMS = list("victims", "mlp,cnn") as Arch[];
const STRATEGIES = list("strategies", "natural,jbda") as ExtractStrategy[];
const ANSWERS = list("answers", "labels,probabilities") as ExtractAnswers[];
const QUERIES = list("queries", "5000,20000").map(Number);
const ARCHS = list("archs", "same,other");
const BUDGETS = list("budgets", "1000,2000,3000").map(Number);
const RATE = Number(opt("rate", "0.005"));
const INNOCENTS = Number(opt("innocents", "10"));
const BENIGN = Number(opt("benign", "20"));
const BENIGN_QUERIES = Number(opt("benign-queries", "400"));
const UNGUARDED = opt("unguarded", "all");
const JSON_OUT = argv.includes("--json");
/** The thief's own images for `natural` (and jbda's seed set): another split or another dataset. */
const THIEF_DATA = opt("thief-data", "mnist");
/** The thief's training epochs (per round for jbda); default extract's. */
const EPOCHS = argv.includes("--epochs") ? Number(opt("epochs", "0")) : undefined;
/** mnist: the thief's digits are the test split only, or all 10,000 (MNIST is public). */
const POOL = opt("pool", "all") as "test" | "all";
const ALPHA = 1e-6;
const NULL_ALPHA = 1e-3;
const dir = argv.includes("--dir") ? opt("dir", "") : mkdtempSync(join(tmpdir(), "provmark-bench-guard-"));
mkdirSync(dir, { recursive: true });
const log = (m: string) => process.stderr.write(`${m}\n`);
const t0 = performance.now();
const since = () => `${((performance.now() - t0) / 1000).toFixed(0)} s`;

const io = legacyModelIO([28, 28, 1], 10);
const other = (a: Arch): Arch => (a === "cnn" ? "mlp" : "cnn");
const mnist = await loadDataset("mnist");
const px = 28 * 28;
const decoys = { from: "mnist", inputs: [] as Uint8Array[] };
for (let i = 0; i < Math.min(500, mnist.test.count); i++)
  decoys.inputs.push(mnist.test.pixels.slice(i * px, (i + 1) * px));

async function train(arch: Arch, seed: number, out: string) {
  const r = await trainModel({ dataset: "mnist", arch, out, seed, backend: backendChoice(), force: true });
  return r;
}

interface Client {
  id: string;
  key: string;
  name: string;
  sha256: string;
}
const clientKeys: Client[] = [];
const newClient = (name: string): Client => {
  const { key, sha256 } = newApiKey();
  const c = { id: newKeyId(), key, name, sha256 };
  clientKeys.push(c);
  return c;
};

interface Row {
  victim: Arch;
  surrogate: Arch;
  strategy: ExtractStrategy;
  answers: ExtractAnswers;
  queries: number;
  guarded: boolean;
  agreement: number | null;
  testAccuracy: number | null;
  altered: number;
  matches: number;
  tested: number;
  log10p: number;
  detected: boolean;
  pradaAlertAt: number | null;
  seconds: number;
}
const rows: Row[] = [];
const innocentRows: { victim: Arch; model: string; client: string; matches: number; tested: number; log10p: number }[] =
  [];
const benignRows: {
  victim: Arch;
  clients: number;
  queries: number;
  altered: number;
  accuracyDirect: number;
  accuracyGuarded: number;
  falseAlarms: number;
}[] = [];
const budgetRows: { victim: Arch; queries: number; altered: number; matches: number; log10p: number }[] = [];

async function detectWith(seed: Uint8Array, logPath: string, client: string, suspectDir: string, tag: string) {
  const dawnLog = await readDawnLog(logPath, seed, { client });
  const r = await dawnDetect({
    seed,
    log: dawnLog,
    client,
    suspect: { protocol: "local", endpoint: suspectDir },
    runDir: join(dir, "runs", tag),
    decoyRatio: 1,
    decoys,
    alpha: ALPHA,
    maxFailureFraction: 0.1,
    reportDir: join(dir, "reports", tag),
  });
  const d = r.clients[0]?.decision;
  return {
    matches: d?.matches ?? 0,
    tested: d?.planned ?? 0,
    log10p: d?.log10PValue ?? 0,
    detected: r.result.verdict === "stolen",
  };
}

for (const victim of VICTIMS) {
  const vdir = join(dir, victim);
  log(`[${since()}] training the ${victim} victim`);
  const trained = await train(victim, 1, join(vdir, "victim"));
  log(`  test accuracy ${(trained.testAccuracy * 100).toFixed(2)}%`);
  const seed = randomBytes(32);
  const logPath = join(vdir, "dawn.log");
  const dawnLog = await openDawnLogWriter(logPath, seed, {
    modelIO: io,
    rate: RATE,
    keyCommitment: toHex(keyCommitment(seed)),
  });
  const defence = createExtractionDefence({
    io,
    monitor: { delta: PRADA_DEFAULT_DELTA, action: "log", throttleMs: 0 },
    dawn: { rate: RATE, seed, log: dawnLog },
    warn: log,
  });

  // Every client of this victim gets its key before the guard starts.
  clientKeys.length = 0;
  const benign = Array.from({ length: BENIGN }, (_, i) => newClient(`benign-${i}`));
  type Job = { strategy: ExtractStrategy; answers: ExtractAnswers; surrogate: Arch; queries: number; client: Client };
  const jobs: Job[] = [];
  for (const strategy of STRATEGIES)
    for (const answers of ANSWERS)
      for (const a of ARCHS)
        for (const queries of QUERIES) {
          const surrogate = a === "same" ? victim : other(victim);
          jobs.push({
            strategy,
            answers,
            surrogate,
            queries,
            client: newClient(`thief-${strategy}-${answers}-${surrogate}-${queries}`),
          });
        }
  const budgetJobs = BUDGETS.map((queries) => ({ queries, client: newClient(`budget-${queries}`) }));
  await writeKeysFile(join(vdir, "keys.json"), {
    schema: "provmark/guard-keys/v1",
    keys: clientKeys.map((c) => ({
      id: c.id,
      name: c.name,
      role: "client" as const,
      sha256: c.sha256,
      createdAt: new Date().toISOString(),
    })),
  });
  const config = parseGuardConfig(
    {
      schema: "provmark/guard-config/v1",
      auth: true,
      keysFile: "keys.json",
      auditLog: "audit.log",
      defaults: { rate: "100000/s", burst: 100000 },
    },
    vdir,
    "bench guard config",
  );
  const server = await startModelServer({ modelDir: join(vdir, "victim"), port: 0, modelName: "victim" });
  const guard = await startGuard({ upstream: server.url, protocol: "tfserving", config, port: 0, io, hooks: defence });

  // Honest clients: natural digits, each a disjoint slice of the dataset.
  log(`[${since()}] ${BENIGN} benign clients × ${BENIGN_QUERIES} natural digits`);
  let okDirect = 0;
  let okGuarded = 0;
  let benignN = 0;
  const all = mnist.train.count;
  // The split is stored class by class: users send a shuffled mix, each a disjoint slice of it.
  const users = permutation(all, createRng(3, "bench-guard/benign"));
  for (let c = 0; c < BENIGN; c++) {
    for (let s = 0; s < BENIGN_QUERIES; s += 50) {
      const idx = Array.from(
        { length: Math.min(50, BENIGN_QUERIES - s) },
        (_, j) => users[(c * BENIGN_QUERIES + s + j) % all] as number,
      );
      const instances = idx.map((i) =>
        Array.from({ length: 28 }, (_, y) =>
          Array.from({ length: 28 }, (_, x) => [(mnist.train.pixels[i * px + y * 28 + x] as number) / 255]),
        ),
      );
      const body = JSON.stringify({ instances });
      const ask = async (url: string, headers: Record<string, string>) => {
        const r = await fetch(`${url}/v1/models/victim:predict`, { method: "POST", body, headers });
        if (!r.ok) throw new Error(`benign query: HTTP ${r.status} ${await r.text()}`);
        return ((await r.json()) as { predictions: number[][] }).predictions.map((p) => p.indexOf(Math.max(...p)));
      };
      const direct = await ask(server.url, {});
      const guarded = await ask(guard.url, { authorization: `Bearer ${benign[c]?.key}` });
      idx.forEach((i, j) => {
        const y = mnist.train.y[i];
        if (direct[j] === y) okDirect++;
        if (guarded[j] === y) okGuarded++;
        benignN++;
      });
    }
  }
  const stats = defence.stats();
  benignRows.push({
    victim,
    clients: BENIGN,
    queries: benignN,
    altered: benign.reduce((n, c) => n + (stats[c.id]?.altered ?? 0), 0),
    accuracyDirect: okDirect / benignN,
    accuracyGuarded: okGuarded / benignN,
    falseAlarms: benign.filter((c) => stats[c.id]?.alerted).length,
  });
  log(`  ${JSON.stringify(benignRows.at(-1))}`);

  const alertAt = (client: string) => defence.alerts().find((a) => a.client === client)?.queries ?? null;
  let unguardedDone = false;
  for (const job of jobs) {
    const tag = `${victim}-${job.strategy}-${job.answers}-${job.surrogate}-${job.queries}`;
    const extract = (guarded: boolean) =>
      extractSurrogate({
        endpoint: guarded ? guard.url : server.url,
        protocol: "tfserving",
        modelName: "victim",
        headers: guarded ? { authorization: `Bearer ${job.client.key}` } : {},
        queries: job.queries,
        strategy: job.strategy,
        arch: job.surrogate,
        answers: job.answers,
        out: join(vdir, guarded ? "surrogates" : "unguarded", tag),
        dataset: THIEF_DATA,
        pool: POOL,
        ...(EPOCHS === undefined ? {} : { epochs: EPOCHS }),
        evalDataset: "mnist",
        seed: 7,
        force: true,
      });
    for (const guarded of [true, false]) {
      if (
        !guarded &&
        (UNGUARDED === "none" ||
          (UNGUARDED === "first" && unguardedDone) ||
          (UNGUARDED === "smallest" && job.queries !== Math.min(...QUERIES)))
      )
        continue;
      log(`[${since()}] extract ${tag} ${guarded ? "through the guard" : "unguarded"}`);
      const started = performance.now();
      const ex = await extract(guarded);
      const d = await detectWith(seed, logPath, job.client.id, ex.out, `${tag}-${guarded ? "g" : "u"}`);
      rows.push({
        victim,
        surrogate: job.surrogate,
        strategy: job.strategy,
        answers: job.answers,
        queries: job.queries,
        guarded,
        agreement: ex.agreement,
        testAccuracy: ex.testAccuracy,
        altered: defence.stats()[job.client.id]?.altered ?? 0,
        matches: d.matches,
        tested: d.tested,
        log10p: d.log10p,
        detected: d.detected,
        pradaAlertAt: guarded ? alertAt(job.client.id) : null,
        seconds: (performance.now() - started) / 1000,
      });
      log(`  ${JSON.stringify(rows.at(-1))}`);
      if (!guarded) unguardedDone = true;
    }
  }

  for (const b of budgetJobs) {
    log(`[${since()}] smallest budget: natural, labels, ${victim} surrogate, ${b.queries} queries`);
    const ex = await extractSurrogate({
      endpoint: guard.url,
      protocol: "tfserving",
      modelName: "victim",
      headers: { authorization: `Bearer ${b.client.key}` },
      queries: b.queries,
      strategy: "natural",
      arch: victim,
      answers: "labels",
      out: join(vdir, "budget", String(b.queries)),
      dataset: THIEF_DATA,
      pool: POOL,
      seed: 11,
      force: true,
    });
    const d = await detectWith(seed, logPath, b.client.id, ex.out, `${victim}-budget-${b.queries}`);
    budgetRows.push({
      victim,
      queries: b.queries,
      altered: defence.stats()[b.client.id]?.altered ?? 0,
      matches: d.matches,
      log10p: d.log10p,
    });
    log(`  ${JSON.stringify(budgetRows.at(-1))}`);
  }

  // Innocent suspects: independently trained models, tested against every thief's log.
  for (let i = 0; i < INNOCENTS; i++) {
    const arch: Arch = i % 2 === 0 ? victim : other(victim);
    const out = join(vdir, "innocents", `${arch}-seed${100 + i}`);
    log(`[${since()}] innocent ${i + 1}/${INNOCENTS}: ${arch} seed ${100 + i}`);
    await train(arch, 100 + i, out);
    for (const job of jobs.filter((j) => j.queries === Math.max(...QUERIES))) {
      const d = await detectWith(seed, logPath, job.client.id, out, `${victim}-innocent-${i}-${job.client.name}`);
      innocentRows.push({ victim, model: `${arch}-seed${100 + i}`, client: job.client.name, ...d });
    }
  }

  await guard.close();
  await server.close();
  await defence.flush();
  await dawnLog.close();
}

const f = (x: number | null, d = 1) => (x === null ? "—" : (x * 100).toFixed(d));
const summary = {
  rate: RATE,
  thiefData: THIEF_DATA,
  pool: POOL,
  alpha: ALPHA,
  nullAlpha: NULL_ALPHA,
  pradaDelta: PRADA_DEFAULT_DELTA,
  extractions: rows,
  benign: benignRows,
  budgets: budgetRows,
  innocents: {
    tests: innocentRows.length,
    falsePositivesAt1e3: innocentRows.filter((r) => r.log10p <= Math.log10(NULL_ALPHA)).length,
    smallestLog10p: innocentRows.reduce((m, r) => Math.min(m, r.log10p), 0),
    rows: innocentRows,
  },
  seconds: (performance.now() - t0) / 1000,
  dir,
};
const lines = [
  `bench:guard — DAWN rate ${RATE}, α ${ALPHA}, PRADA δ ${PRADA_DEFAULT_DELTA}`,
  "victim  surrogate strategy answers        queries guarded agree%  acc%  altered matches/tested log10p   detected PRADA-alert-at",
  ...rows.map(
    (r) =>
      `${r.victim.padEnd(7)} ${r.surrogate.padEnd(9)} ${r.strategy.padEnd(8)} ${r.answers.padEnd(14)} ${String(r.queries).padStart(7)} ${(r.guarded ? "yes" : "no").padEnd(7)} ${f(r.agreement).padStart(6)} ${f(r.testAccuracy).padStart(5)} ${String(r.altered).padStart(7)} ${`${r.matches}/${r.tested}`.padStart(14)} ${r.log10p.toFixed(1).padStart(7)}   ${(r.detected ? "STOLEN" : "no").padEnd(8)} ${r.pradaAlertAt ?? "—"}`,
  ),
  "",
  "honest clients:",
  ...benignRows.map(
    (b) =>
      `  ${b.victim}: ${b.clients} clients, ${b.queries} queries, ${b.altered} altered (${f(b.altered / b.queries, 2)}%), accuracy direct ${f(b.accuracyDirect, 2)}% → guarded ${f(b.accuracyGuarded, 2)}%, PRADA false alarms ${b.falseAlarms}/${b.clients}`,
  ),
  "smallest budget (natural, labels, same arch):",
  ...budgetRows.map(
    (b) =>
      `  ${b.victim} ${b.queries}: ${b.matches}/${b.altered} altered labels reproduced, log10 p ${b.log10p.toFixed(1)}`,
  ),
  `innocent models: ${summary.innocents.tests} tests, ${summary.innocents.falsePositivesAt1e3} at p ≤ 1e-3, smallest log10 p ${summary.innocents.smallestLog10p.toFixed(2)}`,
  `total ${summary.seconds.toFixed(0)} s; files in ${dir}`,
];
process.stderr.write(`${lines.join("\n")}\n`);
if (JSON_OUT) process.stdout.write(`${JSON.stringify(summary)}\n`);
if (!argv.includes("--dir") && !argv.includes("--keep")) rmSync(dir, { recursive: true, force: true });
