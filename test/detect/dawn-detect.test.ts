import { randomBytes } from "node:crypto";
import { cp, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DawnDetectRequest, dawnDetect } from "../../src/detect/dawn-detect.js";
import { readDawnEvidence, recheckDawnEvidence, verifyDawnEvidence } from "../../src/detect/dawn-evidence-verify.js";
import { readDawnLog } from "../../src/guard/dawn-log.js";
import { loadTf, type TF } from "../../src/model/backend.js";
import { type ImageDataset, loadDataset } from "../../src/model/datasets/index.js";
import { loadLayersModel } from "../../src/model/fs-io-handler.js";
import { type ModelServer, startModelServer } from "../../src/serve/model-server.js";
import { tempDir } from "../helpers/fixtures.js";
import { predict, slice, trainSaved, trainSurrogate, writeDawnFixture } from "./helpers/dawn-fixture.js";

// A victim MNIST model behind the guard; a thief's surrogate fine-tuned on the answers it was served
// (altered labels among them); the unmodified victim and an independently trained model as innocents.
let tf: TF;
let mnist: ImageDataset;
let dir: string;
const seed = randomBytes(32);
let logPath: string;
let servers: ModelServer[] = [];
let surrogate: ModelServer;
let surrogatePng: ModelServer;
let victim: ModelServer;
let independentDir: string;
let surrogateAgreement = 0;
let decoyInputs: Uint8Array[] = [];

beforeAll(async () => {
  ({ tf } = await loadTf("wasm"));
  mnist = await loadDataset("mnist");
  dir = await tempDir("provmark-dawn-detect-");
  const victimDir = await trainSaved(tf, mnist, slice(mnist.train, 0, 3000), {
    seed: 1,
    epochs: 3,
    out: join(dir, "victim"),
  });
  independentDir = await trainSaved(tf, mnist, slice(mnist.train, 3000, 3000), {
    seed: 2,
    epochs: 3,
    out: join(dir, "independent"),
  });
  logPath = join(dir, "dawn.log");
  const decoys = slice(mnist.test, 500, 50);
  decoyInputs = Array.from({ length: 50 }, (_, i) => decoys.pixels.slice(i * 784, (i + 1) * 784));
  const thief = slice(mnist.test, 0, 60);
  const [stolen] = await writeDawnFixture(tf, {
    seed,
    victimDir,
    mnist,
    path: logPath,
    clients: [
      { client: "thief", split: thief },
      { client: "honest", split: slice(mnist.test, 100, 40) },
    ],
  });
  const altered = (stolen ?? []).map((q) => q.servedLabel);
  const out = await trainSurrogate(tf, {
    mnist,
    victimDir,
    stolen: thief,
    altered,
    clean: slice(mnist.train, 6000, 1500),
    out: join(dir, "surrogate"),
  });
  const m = await loadLayersModel(tf, out);
  const said = predict(tf, m, thief);
  m.dispose();
  surrogateAgreement = said.filter((l, i) => l === altered[i]).length / altered.length;
  surrogate = await startModelServer({ modelDir: out, port: 0, modelName: "m", backend: "wasm" });
  victim = await startModelServer({ modelDir: victimDir, port: 0, modelName: "m", backend: "wasm" });
  surrogatePng = await startModelServer({
    modelDir: out,
    port: 0,
    modelName: "m",
    backend: "wasm",
    io: { preprocess: "pixel/255" },
  });
  servers = [surrogate, victim, surrogatePng];
}, 600_000);
afterAll(async () => {
  for (const s of servers) await s.close();
});

async function run(over: Partial<DawnDetectRequest> & { suspect: DawnDetectRequest["suspect"] }) {
  const d = await tempDir("provmark-dawn-run-");
  return dawnDetect({
    seed,
    log: await readDawnLog(logPath, seed),
    runDir: join(d, "run"),
    reportDir: join(d, "report"),
    decoyRatio: 1,
    decoys: { from: "mnist", inputs: decoyInputs },
    batchSize: 8,
    retries: 0,
    alpha: 1e-6,
    maxFailureFraction: 0.1,
    ...over,
  });
}

describe("detect --dawn-log", () => {
  it("the surrogate trained on the altered answers is found stolen, naming the thief", async () => {
    expect(surrogateAgreement).toBeGreaterThan(0.5);
    const r = await run({ suspect: { protocol: "tfserving", endpoint: surrogate.url, modelName: "m" } });
    expect(r.result.verdict).toBe("stolen");
    expect(r.result.client).toBe("thief");
    expect(r.result.pValue).toBeLessThanOrEqual(1e-6);
    expect(r.result.multiplicity).toBe(2);
    expect(r.result.planned).toBe(60);
    expect(r.result.matches).toBeGreaterThan(30);
    const honest = r.clients.find((c) => c.client === "honest")?.decision;
    expect(honest?.verdict).toBe("not-detected");
    // Watermark queries hide among as many decoys; every one is in the report with its hashes.
    expect(r.report.queries.filter((q) => q.kind === "decoy")).toHaveLength(100);
    expect(r.report.queries.filter((q) => q.kind === "watermark").every((q) => q.inputSha256 && q.requestSha256)).toBe(
      true,
    );
    const dawn = await readDawnEvidence(r.reportDir);
    if (!dawn) throw new Error("not a DAWN report");
    const check = recheckDawnEvidence(dawn.report, dawn.dir, { alpha: 1e-6, maxFailureFraction: 0.1 });
    expect(check.checks.filter((c) => c.status === "fail")).toEqual([]);
    expect(check.recomputed.matches).toBe(r.result.matches);
    expect(check.caveats[0]).toMatch(/owner's claim/);
    expect(await readFile(join(r.reportDir, "report.html"), "utf8")).toMatch(/DAWN watermark detection/);
  }, 300_000);

  it("logged rows go as PNG images too (bytes recovered exactly), with the same matches", async () => {
    const suspect = { protocol: "tfserving" as const, endpoint: surrogatePng.url, modelName: "m" };
    const tensor = await run({ client: "thief", suspect });
    const png = await run({ client: "thief", suspect: { ...suspect, encoding: "png" } });
    expect(png.report.suspect.encoding).toBe("png");
    expect(png.result.matches).toBe(tensor.result.matches);
    expect(png.result.verdict).toBe("stolen");
    const verified = await verifyDawnEvidence(png.reportDir, { alpha: 1e-6, maxFailureFraction: 0.1 });
    expect(verified?.check.ok).toBe(true);
    expect(verified?.check.checks.find((c) => c.name === "sent inputs")?.detail).toMatch(/PNG decoded/);
    // A report naming other inputs than the PNG requests carried.
    const edit = await copyReport(png.reportDir);
    const report = JSON.parse(await readFile(join(png.reportDir, "report.json"), "utf8"));
    const w = report.queries.filter((x: { kind: string }) => x.kind === "watermark");
    [w[0].pixelsSha256, w[1].pixelsSha256] = [w[1].pixelsSha256, w[0].pixelsSha256];
    await writeFile(join(edit, "report.json"), JSON.stringify(report));
    const bad = await verifyDawnEvidence(edit, { alpha: 1e-6, maxFailureFraction: 0.1 });
    expect(bad?.check.checks.find((c) => c.name === "sent inputs")?.status).toBe("fail");
  }, 300_000);

  it("one client tested alone: no Bonferroni factor", async () => {
    const r = await run({
      client: "thief",
      suspect: { protocol: "tfserving", endpoint: surrogate.url, modelName: "m" },
    });
    expect(r.result.multiplicity).toBe(1);
    expect(r.clients.map((c) => c.client)).toEqual(["thief"]);
    expect(r.result.verdict).toBe("stolen");
  }, 300_000);

  it("the unmodified model and an independently trained one are not detected (p near the null's)", async () => {
    const v = await run({ suspect: { protocol: "tfserving", endpoint: victim.url, modelName: "m" } });
    expect(v.result.verdict).toBe("not-detected");
    // The victim answers y(x), never the altered label L ≠ y(x).
    expect(v.result.matches).toBe(0);
    expect(v.result.pValue).toBe(1);
    const before = tf.memory().numTensors;
    const ind = await run({ suspect: { protocol: "local", endpoint: independentDir } });
    expect(tf.memory().numTensors).toBe(before);
    expect(ind.result.verdict).toBe("not-detected");
    // Under the null a client's matches are at most Bin(60, 1/9) (mean 6.7): far below the thief's.
    for (const c of ind.clients) expect(c.decision.matches).toBeLessThanOrEqual(15);
    expect(ind.result.pValue).toBeGreaterThan(0.01);
  }, 300_000);

  it("a repeated input is counted once", async () => {
    const log = await readDawnLog(logPath, seed, { client: "thief" });
    const first = log.records[0];
    if (!first) throw new Error("empty log");
    const doubled = { ...log, records: [...log.records, { ...first, seq: 999 }] };
    const r = await run({ log: doubled, suspect: { protocol: "tfserving", endpoint: surrogate.url, modelName: "m" } });
    expect(r.report.log.duplicates).toBe(1);
    expect(r.result.planned).toBe(60);
    // The same image under another hash is the same PRF input too.
    const rehashed = { ...log, records: [...log.records, { ...first, seq: 999, inputSha256: "ab".repeat(32) }] };
    const r2 = await run({
      log: rehashed,
      suspect: { protocol: "tfserving", endpoint: surrogate.url, modelName: "m" },
    });
    expect(r2.report.log.duplicates).toBe(1);
    expect(r2.result.planned).toBe(60);
    // A report that counts one input twice is refused by the verifier.
    const twice = await copyReport(r.reportDir);
    const rep = JSON.parse(await readFile(join(r.reportDir, "report.json"), "utf8"));
    const ws = rep.queries.filter((x: { kind: string }) => x.kind === "watermark");
    ws[1].pixelsSha256 = ws[0].pixelsSha256;
    await writeFile(join(twice, "report.json"), JSON.stringify(rep));
    const dawn = await readDawnEvidence(twice);
    if (!dawn) throw new Error("not a DAWN report");
    const c = recheckDawnEvidence(dawn.report, dawn.dir, { alpha: 1e-6, maxFailureFraction: 0.1 });
    expect(check0(c, "distinct inputs")).toBe("fail");
  }, 300_000);

  it("evidence verify rejects an edited answer body, an edited answer and an edited match count", async () => {
    const r = await run({
      client: "thief",
      suspect: { protocol: "tfserving", endpoint: surrogate.url, modelName: "m" },
    });
    const verify = async (d: string) => {
      const dawn = await readDawnEvidence(d);
      if (!dawn) throw new Error("not a DAWN report");
      return recheckDawnEvidence(dawn.report, dawn.dir, { alpha: 1e-6, maxFailureFraction: 0.1 });
    };
    expect((await verify(r.reportDir)).ok).toBe(true);
    const report = JSON.parse(await readFile(join(r.reportDir, "report.json"), "utf8"));
    const q = report.queries.find(
      (x: { kind: string; got: number; expected: number }) => x.kind === "watermark" && x.got !== x.expected,
    );

    // (1) A response body edited to say the altered label (its hash no longer matches).
    const bodyEdit = await copyReport(r.reportDir);
    const bodyPath = join(bodyEdit, "bodies", q.responseSha256);
    const body = JSON.parse(await readFile(bodyPath, "utf8"));
    const row = body.predictions[q.batchPosition];
    row.fill(0);
    row[q.expected] = 1;
    await writeFile(bodyPath, JSON.stringify(body));
    const c1 = await verify(bodyEdit);
    expect(c1.ok).toBe(false);
    expect(c1.checks.find((c) => c.name === "bodies")?.status).toBe("fail");

    // (2) The answer in the report changed to a match: the body says otherwise.
    const answerEdit = await copyReport(r.reportDir);
    const edited = structuredClone(report);
    edited.queries.find((x: { id: string }) => x.id === q.id).got = q.expected;
    await writeFile(join(answerEdit, "report.json"), JSON.stringify(edited));
    const c2 = await verify(answerEdit);
    expect(c2.ok).toBe(false);
    expect(c2.checks.find((c) => c.name === "answers")?.detail).toContain(q.id);

    // (3) The match count inflated.
    const countEdit = await copyReport(r.reportDir);
    const inflated = structuredClone(report);
    inflated.clients[0].decision.matches += 5;
    inflated.result.matches += 5;
    await writeFile(join(countEdit, "report.json"), JSON.stringify(inflated));
    const c3 = await verify(countEdit);
    expect(c3.ok).toBe(false);
    expect(c3.checks.find((c) => c.name === "match counts")?.status).toBe("fail");

    // (4) The report names another input than the request carried.
    const inputEdit = await copyReport(r.reportDir);
    const swapped = structuredClone(report);
    const w = swapped.queries.filter((x: { kind: string }) => x.kind === "watermark");
    [w[0].pixelsSha256, w[1].pixelsSha256] = [w[1].pixelsSha256, w[0].pixelsSha256];
    await writeFile(join(inputEdit, "report.json"), JSON.stringify(swapped));
    const c5 = await verify(inputEdit);
    expect(c5.ok).toBe(false);
    expect(c5.checks.find((c) => c.name === "sent inputs")?.detail).toContain(w[0].id);
    expect(check0(await verify(r.reportDir), "sent inputs")).toBe("pass");

    // (5) An unwelcome query (a mismatch) dropped from a report of all clients.
    const all = await run({ suspect: { protocol: "tfserving", endpoint: surrogate.url, modelName: "m" } });
    expect(check0(await verify(all.reportDir), "log coverage")).toBe("pass");
    const dropEdit = await copyReport(all.reportDir);
    const dropped = JSON.parse(await readFile(join(all.reportDir, "report.json"), "utf8"));
    const at = dropped.queries.findIndex(
      (x: { kind: string; got: number; expected: number }) => x.kind === "watermark" && x.got !== x.expected,
    );
    dropped.queries.splice(at, 1);
    await writeFile(join(dropEdit, "report.json"), JSON.stringify(dropped));
    const c6 = await verify(dropEdit);
    expect(check0(c6, "log coverage")).toBe("fail");

    // (6) A verdict claimed where the counts do not reach the verifier's α.
    const strict = await verify(r.reportDir);
    const dawn = await readDawnEvidence(r.reportDir);
    if (!dawn) throw new Error("not a DAWN report");
    const c4 = recheckDawnEvidence(dawn.report, dawn.dir, {
      alpha: 10 ** (strict.recomputed.log10PValue - 1),
      maxFailureFraction: 0.1,
    });
    expect(c4.checks.find((c) => c.name === "verdict")?.status).toBe("fail");
  }, 300_000);

  it("an interrupted run resumes from its journal: answered queries are not sent again", async () => {
    const d = await tempDir("provmark-dawn-resume-");
    const stop = new AbortController();
    const suspect = { protocol: "tfserving" as const, endpoint: surrogate.url, modelName: "m" };
    const first = await run({
      client: "thief",
      suspect,
      runDir: join(d, "run"),
      reportDir: join(d, "r1"),
      concurrency: 1,
      onProgress: (p) => {
        if (p.answered >= 16) stop.abort();
      },
      signal: stop.signal,
    });
    expect(first.complete).toBe(false);
    expect(first.result.verdict).toBe("inconclusive");
    const requestsBefore = surrogate.stats().requests;
    const second = await run({ client: "thief", suspect, runDir: join(d, "run"), reportDir: join(d, "r2") });
    expect(second.complete).toBe(true);
    expect(second.resumed).toBeGreaterThanOrEqual(16);
    expect(surrogate.stats().requests - requestsBefore).toBe(Math.ceil((120 - second.resumed) / 8));
    expect(second.result.verdict).toBe("stolen");
    // --fresh drops an interrupted run's answers: everything is sent again.
    const stop2 = new AbortController();
    await run({
      client: "thief",
      suspect,
      runDir: join(d, "run2"),
      reportDir: join(d, "r3"),
      concurrency: 1,
      onProgress: (p) => {
        if (p.answered >= 16) stop2.abort();
      },
      signal: stop2.signal,
    });
    const fresh = await run({
      client: "thief",
      suspect,
      runDir: join(d, "run2"),
      reportDir: join(d, "r4"),
      fresh: true,
    });
    expect(fresh.resumed).toBe(0);
    expect(fresh.complete).toBe(true);
  }, 300_000);

  it("a log with a torn tail still serves: earlier records used, the warning in the report", async () => {
    const torn = join(await tempDir("provmark-dawn-torn-"), "dawn.log");
    const bytes = await readFile(logPath);
    await writeFile(torn, bytes.subarray(0, bytes.length - 50));
    const log = await readDawnLog(torn, seed);
    expect(log.records).toHaveLength(99);
    const r = await run({
      log,
      client: "thief",
      suspect: { protocol: "tfserving", endpoint: surrogate.url, modelName: "m" },
    });
    expect(r.result.planned).toBe(60);
    expect(r.report.warnings.join()).toMatch(/torn/);
    expect(r.result.verdict).toBe("stolen");
  }, 300_000);

  it("an unknown client is a usage error naming the clients", async () => {
    const e = await run({
      client: "mallory",
      suspect: { protocol: "tfserving", endpoint: victim.url, modelName: "m" },
    }).catch((x: { code: string; message: string; hints: string[] }) => x);
    expect(e).toMatchObject({ code: "USAGE" });
    expect((e as { hints: string[] }).hints.join()).toMatch(/thief, honest/);
  });
});

const check0 = (c: { checks: { name: string; status: string }[] }, name: string) =>
  c.checks.find((x) => x.name === name)?.status;

async function copyReport(from: string): Promise<string> {
  const to = join(await tempDir("provmark-dawn-edit-"), "report");
  await cp(from, to, { recursive: true });
  expect((await readdir(join(to, "bodies"))).length).toBeGreaterThan(0);
  return to;
}
