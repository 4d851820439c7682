import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isProvmarkError } from "../../src/errors.js";
import { EXTRACT_FILE, type ExtractOptions, extractSurrogate } from "../../src/lab/extract.js";
import { loadTf } from "../../src/model/backend.js";
import { loadDataset } from "../../src/model/datasets/index.js";
import { loadLayersModel } from "../../src/model/fs-io-handler.js";
import { type ModelServer, startModelServer } from "../../src/serve/model-server.js";
import { tempDir } from "../helpers/fixtures.js";
import { writeToyIdx } from "../helpers/idx.js";
import { startGate, trainVictim } from "./extract-helpers.js";

// The thief's tool against a real MNIST victim behind `startModelServer` on 127.0.0.1.
let server: ModelServer;
let victimDir: string;
let dir: string;

beforeAll(async () => {
  const victim = await trainVictim();
  expect(victim.testAccuracy).toBeGreaterThan(0.9);
  victimDir = victim.dir;
  server = await startModelServer({ modelDir: victimDir, port: 0, backend: "wasm" });
  dir = await tempDir("provmark-extract-out-");
});

afterAll(async () => {
  await server?.close();
});

const base = (over: Partial<ExtractOptions>): ExtractOptions => ({
  endpoint: server.url,
  protocol: "tfserving",
  modelName: server.modelName,
  queries: 500,
  strategy: "natural",
  arch: "mlp",
  answers: "labels",
  out: join(dir, `out-${Math.random().toString(36).slice(2)}`),
  backend: "wasm",
  ...over,
});

/** Runs an extraction and returns the server's count of predicted instances it caused. */
async function extract(over: Partial<ExtractOptions>) {
  const before = server.stats().instances;
  const r = await extractSurrogate(base(over));
  return { r, instances: server.stats().instances - before };
}

describe("extractSurrogate through a real TF Serving API", () => {
  it("2,000 natural queries with labels give a surrogate that agrees with the victim on held-out digits", async () => {
    const { tf } = await loadTf("wasm");
    const tensors = tf.memory().numTensors;
    const { r, instances } = await extract({ queries: 2000, agreementQueries: 400, evalDataset: "mnist" });
    expect(tf.memory().numTensors).toBe(tensors);
    // Measured 0.885, 0.928, 0.940 for seeds 1-3 (test accuracy 0.870-0.922); an untrained or
    // mislabelled surrogate sits near 0.1.
    expect(r.agreement).toBeGreaterThanOrEqual(0.85);
    expect(r.agreementCount).toBe(400);
    expect(r.testAccuracy).toBeGreaterThanOrEqual(0.84);
    // Exact accounting: every training query was sent once and answered; the server saw exactly those.
    expect(r.queries).toMatchObject({ budget: 2000, sent: 2000, answered: 2000, failed: 0, agreementSent: 400 });
    expect(instances).toBe(2400);
    // The saved surrogate is a normal LayersModel, and extract.json is the result.
    expect(JSON.parse(await readFile(join(r.out, EXTRACT_FILE), "utf8"))).toEqual(r);
    const surrogate = await loadLayersModel(tf, r.out);
    const victim = await loadLayersModel(tf, victimDir);
    try {
      // A check that trusts nothing in the result: the victim run locally on the mnist test split
      // (1,996 digits, of which the thief queried 1,497 and held out 499).
      const data = await loadDataset("mnist");
      const n = data.test.count;
      const same = tf.tidy(() => {
        const x = tf.tensor(data.test.x, [n, 28, 28, 1]);
        const a = (surrogate.predict(x) as tfTypes.Tensor).argMax(-1);
        const b = (victim.predict(x) as tfTypes.Tensor).argMax(-1);
        return a.equal(b).sum().dataSync()[0] as number;
      });
      expect(same / n).toBeGreaterThanOrEqual(0.85);
    } finally {
      surrogate.dispose();
      victim.dispose();
    }
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it("jbda spends exactly the budget, round sizes doubling from the seed set", async () => {
    const { tf } = await loadTf("wasm");
    const tensors = tf.memory().numTensors;
    const { r, instances } = await extract({
      queries: 700,
      strategy: "jbda",
      arch: "mlp-small",
      answers: "probabilities",
      epochs: 3,
      jbda: { seedSize: 100 },
    });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(r.rounds).toEqual([100, 100, 200, 300]);
    expect(r.queries).toMatchObject({ budget: 700, sent: 700, answered: 700, failed: 0 });
    expect(instances).toBe(700);
    expect(r.agreement).toBeNull();
  });

  it("probabilities train a surrogate too (over KServe v2), and noise queries are accounted the same way", async () => {
    const p = await extract({ protocol: "kserve", queries: 1000, answers: "probabilities", agreementQueries: 300 });
    expect(p.instances).toBe(1300);
    // Measured 0.903, 0.947, 0.930 for seeds 1-3.
    expect(p.r.agreement).toBeGreaterThanOrEqual(0.85);
    const n = await extract({ queries: 300, strategy: "noise", arch: "mlp-small", epochs: 2 });
    expect(n.r.queries).toMatchObject({ sent: 300, answered: 300 });
    expect(n.instances).toBe(300);
  });

  it("a rate-limited API slows the thief (Retry-After honoured) instead of failing it", async () => {
    const gate = await startGate(server.url, { limitEvery: 3, retryAfter: 1 });
    try {
      const t = Date.now();
      const { r } = await extract({ endpoint: gate.url, queries: 320, concurrency: 1, epochs: 1 });
      expect(r.queries).toMatchObject({ sent: 320, answered: 320, failed: 0 });
      expect(r.queries.rateLimited).toBe(gate.counts.limited);
      expect(gate.counts.limited).toBeGreaterThanOrEqual(3);
      // With one request in flight, each 429 is followed by a wait of at least Retry-After.
      for (const at of gate.limitedAt) {
        const next = gate.arrivals.find((a) => a > at);
        if (next !== undefined) expect(next - at).toBeGreaterThanOrEqual(950);
      }
      expect(Date.now() - t).toBeGreaterThanOrEqual(gate.counts.limited * 950);
    } finally {
      await gate.close();
    }
  });

  it("a keyed API refuses a thief without the key with a coded error, and nothing is written", async () => {
    const gate = await startGate(server.url, { token: "pmk_test_key_123456" });
    try {
      const out = join(dir, "unauthorized");
      const e = await extractSurrogate(base({ endpoint: gate.url, out })).catch((x: unknown) => x);
      expect(isProvmarkError(e) && e.code).toBe("EXTRACT_UNAUTHORIZED");
      expect((e as Error).message).toContain("HTTP 401");
      expect((e as Error).message).not.toContain("pmk_test_key_123456");
      // One batch per worker at most, then it stops: a refused thief does not keep hammering.
      expect(gate.counts.unauthorized).toBeLessThanOrEqual(4);
      await expect(stat(out)).rejects.toThrow();
      const { r } = await extract({
        endpoint: gate.url,
        queries: 64,
        epochs: 1,
        headers: { Authorization: "Bearer pmk_test_key_123456" },
      });
      expect(r.queries.answered).toBe(64);
    } finally {
      await gate.close();
    }
  });

  it("a guard that blocks the thief mid-run (403) ends the querying; the surrogate is trained on what was answered", async () => {
    const gate = await startGate(server.url, { blockAfter: 5 });
    try {
      const { tf } = await loadTf("wasm");
      const tensors = tf.memory().numTensors;
      const { r, instances } = await extract({
        endpoint: gate.url,
        queries: 640,
        concurrency: 1,
        agreementQueries: 100,
      });
      expect(tf.memory().numTensors).toBe(tensors);
      expect(r.refused).toContain("HTTP 403");
      // Five batches of 32 answered, the sixth refused (spent: the guard saw it), nothing after.
      expect(r.queries).toMatchObject({ sent: 192, answered: 160, failed: 32, agreementSent: 0 });
      expect(r.queries.failuresByKind).toEqual({ "http-4xx": 32 });
      expect(gate.counts).toMatchObject({ forwarded: 5, blocked: 1 });
      expect(instances).toBe(160);
      expect(r.agreement).toBeNull();
      expect((await stat(join(r.out, "model.json"))).isFile()).toBe(true);
    } finally {
      await gate.close();
    }
  });

  it("--answers probabilities against a labels-only API is a coded error; labels work", async () => {
    const gate = await startGate(server.url, { labelsOnly: true });
    try {
      const config = join(dir, "labels-api.json");
      await writeFile(
        config,
        JSON.stringify({
          batch: 32,
          request: { instances: "$INPUTS" },
          response: { path: "labels", kind: "label" },
        }),
      );
      const over = { endpoint: `${gate.url}/predict`, protocol: "json" as const, configPath: config, queries: 96 };
      const e = await extractSurrogate(base({ ...over, answers: "probabilities" })).catch((x: unknown) => x);
      expect(isProvmarkError(e) && e.code).toBe("EXTRACT_NO_SCORES");
      const { r } = await extract({ ...over, epochs: 1 });
      expect(r.queries).toMatchObject({ sent: 96, answered: 96 });
    } finally {
      await gate.close();
    }
  });

  it("an API that answers nothing (wrong model name: 404) stops after one round with the reason", async () => {
    const out = join(dir, "no-answers");
    const e = await extractSurrogate(base({ modelName: "not-served", queries: 64, out })).catch((x: unknown) => x);
    expect(isProvmarkError(e) && e.code).toBe("EXTRACT_NO_ANSWERS");
    expect((e as Error).message).toContain("HTTP 404");
    await expect(stat(out)).rejects.toThrow();
  });

  it("bad options are USAGE errors before any query", async () => {
    const before = server.stats().requests;
    for (const over of [
      { queries: 0 },
      { strategy: "steal" as never },
      { arch: "resnet" as never },
      { answers: "logits" as never },
      { jbda: { lambda: 2 } },
    ]) {
      const e = await extractSurrogate(base(over)).catch((x: unknown) => x);
      expect(isProvmarkError(e) && e.code).toBe("USAGE");
    }
    // An --eval dataset of other images is refused before the budget is spent, not after.
    const toy = join(dir, "toy");
    await mkdir(toy);
    await writeToyIdx(toy);
    const e = await extractSurrogate(base({ evalDataset: `idx:${toy}` })).catch((x: unknown) => x);
    expect(isProvmarkError(e) && e.code).toBe("DATASET_MODEL_MISMATCH");
    expect(server.stats().requests).toBe(before);
  });
});
