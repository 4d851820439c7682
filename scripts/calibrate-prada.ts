/**
 * `npm run calibrate:prada [-- --delta D --seed S --clients N --queries Q --attack-queries A --margin M --json]`:
 * calibrates PRADA's δ on benign MNIST clients and runs it against synthetic extraction queries.
 *
 * Victim: the `mlp` architecture trained (seed 1, 6 epochs) on 4,000 of the 10,000 built-in MNIST
 * digits (train and test splits pooled, shuffled by --seed, default 1). Benign clients: the other
 * 6,000, none seen by the victim, cut into N disjoint sequences of Q queries (default 20 × 300;
 * the package has too few test-split digits for 20 clients of 250+ queries): each is one "natural
 * user" sending real digits, the class PRADA sees being the victim's
 * prediction. Per client: the minimum W over every test PRADA ran; the calibrated δ is the smallest
 * of those minus a margin, rounded down to 0.01, so none of these clients would have been flagged.
 *
 * Attacks (no surrogate needed): uniform noise queries; JBDA-shaped queries (Papernot et al.'s
 * augmentation x' = clip(x ± λ·sign(·)), λ = 0.1, each round doubling the set from 10 seed digits,
 * with a random sign instead of the surrogate's Jacobian sign); T-RND-shaped queries (random
 * perturbations of seed digits, Juuti et al.'s variant). Printed: queries until the first alert.
 * Also the cost of observe() per query once the monitor's row cap is full, and its bytes.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import { PRADA_DEFAULT_DELTA, PradaMonitor } from "../src/core/guard/prada.js";
import { createRng, permutation, type Rng } from "../src/core/rng.js";
import { createAdam } from "../src/model/adam.js";
import { ARCH_DEFAULTS, buildModel } from "../src/model/archs.js";
import { loadTf, type TF } from "../src/model/backend.js";
import { type ImageDataset, type ImageSplit, takeExamples } from "../src/model/datasets/dataset.js";
import { loadDataset } from "../src/model/datasets/index.js";
import { accuracy, fitModel } from "../src/model/train-loop.js";

const PIXELS = 784;
const argv = process.argv.slice(2);
const num = (name: string, dflt: number): number => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const json = argv.includes("--json");
const delta = num("--delta", PRADA_DEFAULT_DELTA);
const clients = num("--clients", 20);
const perClient = num("--queries", 300);
const attackQueries = num("--attack-queries", 3000);
const margin = num("--margin", 0.02);
const splitSeed = num("--seed", 1);
const log = (s: string) => {
  if (!json) console.log(s);
};

async function main(): Promise<void> {
  const { tf } = await loadTf("auto");
  const data = await loadDataset("mnist");
  const all = concat(data.train, data.test);
  const order = permutation(all.count, createRng(splitSeed, "calibrate-prada/split"));
  const victimCount = Math.min(4000, all.count - clients * perClient);
  const victimIdx = Array.from(order.subarray(0, victimCount));
  const poolIdx = Array.from(order.subarray(victimCount));
  if (clients * perClient > poolIdx.length)
    throw new Error(`${clients}×${perClient} queries > ${poolIdx.length} digits`);

  const victimData: ImageDataset = { ...data, train: takeExamples(all, victimIdx, PIXELS) };
  const model = buildModel(tf, "mlp", data.inputShape, 10, 1);
  model.compile({ optimizer: createAdam(tf, ARCH_DEFAULTS.mlp.learningRate), loss: "categoricalCrossentropy" });
  await fitModel(tf, model, victimData, { epochs: 6, batchSize: 128, seed: 1, maxShift: 1, lrDecay: 0.85 });
  const pool = takeExamples(all, poolIdx, PIXELS);
  const acc = accuracy(tf, model, pool, data);
  log(`victim: mlp on ${victimCount} digits, accuracy on the ${pool.count} client digits ${acc.toFixed(4)}`);
  const predictAll = (x: Float32Array) => predict(tf, model, x);
  const poolPred = predictAll(pool.x);

  const benign: { client: number; queries: number; tests: number; minW: number | null; alerts: number }[] = [];
  for (let c = 0; c < clients; c++) {
    const m = new PradaMonitor({ delta }, PIXELS);
    let minW: number | null = null;
    let tests = 0;
    let alerts = 0;
    for (let q = 0; q < perClient; q++) {
      const i = c * perClient + q;
      const o = m.observe(pool.x.subarray(i * PIXELS, (i + 1) * PIXELS), poolPred[i] as number);
      if (o.tested && o.w !== null) {
        tests++;
        minW = minW === null ? o.w : Math.min(minW, o.w);
        if (o.alert) alerts++;
      }
    }
    benign.push({ client: c + 1, queries: perClient, tests, minW, alerts });
  }
  const minWs = benign.map((b) => b.minW).filter((w): w is number => w !== null);
  const lowest = Math.min(...minWs);
  const calibrated = Math.floor((lowest - margin) * 100) / 100;

  log(`\nbenign clients (δ = ${delta}): ${clients} × ${perClient} queries`);
  log("client  tests  min W    alerts");
  for (const b of benign) {
    log(
      `${String(b.client).padStart(6)}  ${String(b.tests).padStart(5)}  ${b.minW?.toFixed(4) ?? "  -   "}  ${b.alerts}`,
    );
  }
  log(`lowest benign W ${lowest.toFixed(4)}; δ with 0 false alarms and margin ${margin}: ${calibrated}`);

  const seeds = seedDigits(pool, 10);
  const attacks: { strategy: string; queriesToAlert: number | null; minW: number | null }[] = [];
  for (const [strategy, gen] of [
    ["noise", noiseQueries],
    ["jbda", jbdaQueries],
    ["t-rnd", trndQueries],
  ] as const) {
    const rng = createRng(7, `calibrate-prada/${strategy}`);
    const x = gen(seeds, attackQueries, rng);
    const pred = predictAll(x);
    for (const d of calibrated === delta ? [delta] : [delta, calibrated]) {
      const m = new PradaMonitor({ delta: d }, PIXELS);
      let at: number | null = null;
      let minW: number | null = null;
      for (let q = 0; q < attackQueries; q++) {
        const o = m.observe(x.subarray(q * PIXELS, (q + 1) * PIXELS), pred[q] as number);
        if (o.tested && o.w !== null) minW = minW === null ? o.w : Math.min(minW, o.w);
        if (o.alert && at === null) at = o.queries;
      }
      attacks.push({ strategy: `${strategy} (δ ${d})`, queriesToAlert: at, minW });
    }
  }
  log(`\nattacks (${attackQueries} queries each)`);
  log("strategy            queries to alert  min W");
  for (const a of attacks) {
    log(`${a.strategy.padEnd(20)}${String(a.queriesToAlert ?? "none").padStart(16)}  ${a.minW?.toFixed(4) ?? "-"}`);
  }

  const cost = measureCost(seeds);
  log(
    `\ncost at the cap (${cost.rows} rows, ${cost.distances} distances): ${cost.usPerQuery.toFixed(1)} µs/query ` +
      `(${cost.usPerQueryWithoutTests.toFixed(1)} without the tests), ${cost.bytes} bytes per client`,
  );
  model.dispose();
  if (json) {
    console.log(
      JSON.stringify({
        delta,
        calibratedDelta: calibrated,
        margin,
        victimAccuracy: acc,
        benign,
        lowestBenignW: lowest,
        attacks,
        cost,
      }),
    );
  }
}

function predict(tf: TF, model: tfTypes.LayersModel, x: Float32Array): Int32Array {
  const n = x.length / PIXELS;
  const out = new Int32Array(n);
  for (let s = 0; s < n; s += 500) {
    const k = Math.min(500, n - s);
    const p = tf.tidy(() =>
      (model.predict(tf.tensor(x.subarray(s * PIXELS, (s + k) * PIXELS), [k, 28, 28, 1])) as tfTypes.Tensor)
        .argMax(-1)
        .dataSync(),
    );
    out.set(p, s);
  }
  return out;
}

function concat(a: ImageSplit, b: ImageSplit): ImageSplit {
  const x = new Float32Array(a.x.length + b.x.length);
  x.set(a.x);
  x.set(b.x, a.x.length);
  const y = new Uint16Array(a.count + b.count);
  y.set(a.y);
  y.set(b.y, a.count);
  const pixels = new Uint8Array(a.pixels.length + b.pixels.length);
  pixels.set(a.pixels);
  pixels.set(b.pixels, a.pixels.length);
  return { x, y, count: a.count + b.count, pixels };
}

/** The attacker's seed set: the first `n` digits of the pool (the attacker's own few natural images). */
function seedDigits(pool: ImageSplit, n: number): Float32Array {
  return pool.x.slice(pool.x.length - n * PIXELS);
}

function noiseQueries(_seeds: Float32Array, n: number, rng: Rng): Float32Array {
  const x = new Float32Array(n * PIXELS);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  return x;
}

/** Seeds first, then rounds of x ± λ·sign(r) over the whole current set (the set doubles each round). */
function jbdaQueries(seeds: Float32Array, n: number, rng: Rng): Float32Array {
  const lambda = 0.1;
  const x = new Float32Array(n * PIXELS);
  let have = Math.min(n, seeds.length / PIXELS);
  x.set(seeds.subarray(0, have * PIXELS));
  while (have < n) {
    const round = have;
    for (let j = 0; j < round && have < n; j++, have++) {
      for (let i = 0; i < PIXELS; i++) {
        const v = (x[j * PIXELS + i] as number) + (rng.next() < 0.5 ? -lambda : lambda);
        x[have * PIXELS + i] = Math.min(1, Math.max(0, v));
      }
    }
  }
  return x;
}

/** Each query: a random seed digit plus uniform noise in ±0.25 on every pixel, clipped. */
function trndQueries(seeds: Float32Array, n: number, rng: Rng): Float32Array {
  const k = seeds.length / PIXELS;
  const x = new Float32Array(n * PIXELS);
  for (let q = 0; q < n; q++) {
    const s = rng.int(k);
    for (let i = 0; i < PIXELS; i++) {
      const v = (seeds[s * PIXELS + i] as number) + (rng.next() - 0.5) * 0.5;
      x[q * PIXELS + i] = Math.min(1, Math.max(0, v));
    }
  }
  return x;
}

/**
 * observe() cost once every row slot is taken and the distance window is full (JBDA-like inputs, 10
 * classes): the median of 5 timed runs of 2,000 queries, with the Shapiro-Wilk test every 10 queries
 * (the default) and without it (distances only), since this machine's load varies run to run.
 */
function measureCost(seeds: Float32Array): {
  rows: number;
  distances: number;
  usPerQuery: number;
  usPerQueryWithoutTests: number;
  bytes: number;
} {
  const reps = 2000;
  const x = jbdaQueries(seeds, 5020 + reps, createRng(3, "calibrate-prada/cost"));
  const at = (q: number) => x.subarray(q * PIXELS, (q + 1) * PIXELS);
  const time = (every: number): { us: number; m: PradaMonitor } => {
    const runs: number[] = [];
    let m = new PradaMonitor({ delta: 0.5, every }, PIXELS);
    for (let r = 0; r < 5; r++) {
      m = new PradaMonitor({ delta: 0.5, every }, PIXELS);
      const fill = m.maxDistances + 20;
      for (let q = 0; q < fill; q++) m.observe(at(q), q % 10);
      const t0 = performance.now();
      for (let q = fill; q < fill + reps; q++) m.observe(at(q), q % 10);
      runs.push(((performance.now() - t0) * 1000) / reps);
    }
    runs.sort((p, q) => p - q);
    return { us: runs[2] as number, m };
  };
  const withTests = time(10);
  const without = time(1_000_000);
  return {
    rows: withTests.m.maxRows,
    distances: withTests.m.maxDistances,
    usPerQuery: withTests.us,
    usPerQueryWithoutTests: without.us,
    bytes: withTests.m.memoryBytes(),
  };
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
