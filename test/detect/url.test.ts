import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Certificate } from "../../src/core/watermark/certificate.js";
import { imageParams, type WatermarkKey } from "../../src/core/watermark/params.js";
import { type DetectRequest, detect } from "../../src/detect/detect.js";
import { verifyEvidence } from "../../src/detect/evidence-verify.js";
import { hashModel } from "../../src/model/hash-model.js";
import { trainModel } from "../../src/model/train-model.js";
import { embedWatermark } from "../../src/watermark/embed.js";
import { verifyModel } from "../../src/watermark/verify.js";
import { tempDir } from "../helpers/fixtures.js";
import { writeToyIdx } from "../helpers/idx.js";
import { requantizeUint8 } from "./helpers/requantize.js";
import { type StaticSite, staticSite } from "./helpers/static-site.js";

// A thief's web app ships the stolen model to every browser: detect --protocol url fetches it from
// a loopback static site, re-sharded and requantized to uint8, and runs both tests on it locally.
let dir: string;
let site: StaticSite;
let elsewhere: StaticSite;
let key: WatermarkKey;
let cert: Certificate;
let markedBitErrors: number;

const run = (endpoint: string, name: string, extra: Partial<DetectRequest> = {}) =>
  detect({
    key,
    certificate: cert,
    suspect: { protocol: "url", endpoint },
    runDir: join(dir, "runs", name),
    subset: 20,
    decoyRatio: 1,
    decoys: { from: null, inputs: Array.from({ length: 10 }, (_, i) => new Uint8Array(64).fill(i * 20)) },
    alpha: 1e-6,
    maxFailureFraction: 0.2,
    timeoutMs: 5_000,
    reportDir: join(dir, "reports", name),
    ...extra,
  });

beforeAll(async () => {
  dir = await tempDir("provmark-url-");
  const data = join(dir, "data");
  await mkdir(data);
  await writeToyIdx(data);
  const dataset = `idx:${data}`;
  for (const [name, seed] of [
    ["base", 1],
    ["other", 2],
  ] as const) {
    await trainModel({ dataset, arch: "mlp", out: join(dir, name), seed, epochs: 4, backend: "wasm" });
  }
  key = {
    seed: new Uint8Array(32).map((_, i) => (i * 53 + 7) & 0xff),
    params: imageParams({
      classes: 3,
      inputShape: [8, 8, 1],
      layer: "dense2",
      bits: 64,
      triggers: 40,
      family: "noise",
      stampStrength: 0.3,
    }),
    stampBases: [],
  };
  const embedded = await embedWatermark({
    model: join(dir, "base"),
    keyPath: "k.key",
    key,
    dataset,
    out: join(dir, "marked"),
    backend: "wasm",
    settings: { maxEpochs: 60 },
  });
  cert = embedded.certificate;
  markedBitErrors = embedded.bitErrors;
  const root = join(dir, "site");
  await requantizeUint8(join(dir, "marked"), join(root, "stolen"), 8 * 1024);
  await requantizeUint8(join(dir, "other"), join(root, "clean"), 8 * 1024);
  await mkdir(join(root, "graph"));
  await writeFile(
    join(root, "graph", "model.json"),
    JSON.stringify({ format: "graph-model", modelTopology: { node: [] }, weightsManifest: [] }),
  );
  await mkdir(join(root, "text"));
  await writeFile(join(root, "text", "model.json"), "<html>hello</html>");
  const stolenJson = await readFile(join(root, "stolen", "model.json"), "utf8");
  await mkdir(join(root, "holey"));
  await writeFile(join(root, "holey", "model.json"), stolenJson);
  elsewhere = await staticSite(root);
  site = await staticSite(root, (req, res) => {
    if (req.url === "/moved/model.json") res.writeHead(301, { location: "/stolen/model.json" }).end();
    else if (req.url === "/cdn/model.json")
      res.writeHead(302, { location: `${elsewhere.url}/stolen/model.json` }).end();
    else if (req.url === "/slow/model.json")
      return true; // never answers
    else return false;
    return true;
  });
}, 300_000);

afterAll(async () => {
  await site?.close();
  await elsewhere?.close();
});

describe("detect --protocol url", () => {
  it("finds the stolen model behind a same-origin redirect, re-sharded and requantized, with its weight mark intact", async () => {
    const r = await run(`${site.url}/moved/model.json`, "stolen");
    expect(r.decision.verdict).toBe("stolen");
    const wm = r.whiteBox?.weightMark;
    if (!wm?.applicable) throw new Error(`no weight test: ${JSON.stringify(wm)}`);
    // uint8 quantization of the carrier costs at most a few of the 64 projected signs
    expect(wm.bits).toBe(64);
    expect(wm.bitErrors).toBeLessThanOrEqual(markedBitErrors + 2);
    expect(wm.log10PValue).toBeLessThan(-12);
    expect(r.whiteBox?.combined.verdict).toBe("stolen");

    const d = r.report.download;
    expect(d?.url).toBe(`${site.url}/moved/model.json`);
    expect(r.report.suspect).toMatchObject({ protocol: "url", target: `${site.url}/moved/model.json` });
    const files = d?.files ?? [];
    expect(files[0]).toMatchObject({
      name: "model.json",
      status: 200,
      redirectedFrom: [`${site.url}/moved/model.json`],
    });
    expect(files.length).toBeGreaterThan(5);
    const kept = join(r.reportDir, "suspect-model");
    expect((await readdir(kept)).sort()).toEqual(files.map((f) => f.name).sort());
    expect(d?.weightsDigest).toBe((await hashModel(join(dir, "site", "stolen"))).weightsDigest);
    // requantized, so not the registered digest: the weight mark is what ties it to the release
    expect(d?.weightsDigest).not.toBe(cert.model.weightsDigest);

    const { check } = await verifyEvidence(r.reportDir, { alpha: 1e-6, maxFailureFraction: 0.2 });
    expect(check.checks.filter((c) => c.status === "fail")).toEqual([]);
    expect(check.checks.map((c) => c.name)).toContain("weight mark re-read from the fetched model");
    expect(check.ok).toBe(true);
  }, 60_000);

  it("the loader dequantizes the uint8 copy: verify reads the same bits as detect", async () => {
    const v = await verifyModel({ model: join(dir, "site", "stolen"), key, keyPath: "k.key", backend: "wasm" });
    expect(v.weight).toMatchObject({ applicable: true, bits: 64 });
    expect(v.verdict).toBe("watermarked");
  }, 60_000);

  it("an independent model is not detected, by either test", async () => {
    const r = await run(`${site.url}/clean/model.json`, "clean");
    expect(r.decision.verdict).toBe("not-detected");
    expect(r.whiteBox?.weightMark).toMatchObject({ applicable: true });
    expect(r.whiteBox?.combined.verdict).toBe("not-detected");
    const { check } = await verifyEvidence(r.reportDir, { alpha: 1e-6, maxFailureFraction: 0.2 });
    expect(check.ok).toBe(true);
  }, 60_000);

  it("a shard tampered with after the evidence was written fails evidence verify", async () => {
    const r = await run(`${site.url}/stolen/model.json`, "tampered");
    const shard = r.report.download?.files[1]?.name as string;
    const path = join(r.reportDir, "suspect-model", shard);
    const bytes = await readFile(path);
    bytes[10] = (bytes[10] as number) ^ 0xff;
    await writeFile(path, bytes);
    const { check } = await verifyEvidence(r.reportDir, { alpha: 1e-6, maxFailureFraction: 0.2 });
    expect(check.ok).toBe(false);
    expect(check.checks.find((c) => c.name === "fetched model files match their SHA-256")).toMatchObject({
      status: "fail",
      detail: expect.stringContaining(`${shard} does not match its recorded SHA-256`),
    });
  }, 60_000);

  it("refuses a cross-origin redirect, naming both origins", async () => {
    await expect(run(`${site.url}/cdn/model.json`, "cdn")).rejects.toMatchObject({
      code: "SUSPECT_URL_CROSS_ORIGIN",
      exitCode: 2,
      message: expect.stringContaining(`${site.url} → ${elsewhere.url}`),
    });
  });

  it("refuses a model over the download cap before fetching its shards", async () => {
    await expect(run(`${site.url}/stolen/model.json`, "big", { maxDownloadBytes: 50_000 })).rejects.toMatchObject({
      code: "SUSPECT_URL_TOO_LARGE",
      message: expect.stringContaining("more than the 50000 allowed"),
    });
    expect(await readdir(join(dir, "runs", "big"))).not.toContain("suspect-model");
  });

  it("names what is wrong: a GraphModel, not JSON, a 404, a missing shard, a timeout", async () => {
    await expect(run(`${site.url}/graph/model.json`, "graph")).rejects.toMatchObject({
      code: "SUSPECT_URL_GRAPH_MODEL",
      hints: expect.arrayContaining([expect.stringContaining("--protocol tfserving, kserve or json")]),
    });
    await expect(run(`${site.url}/text/model.json`, "text")).rejects.toMatchObject({ code: "SUSPECT_URL_NOT_MODEL" });
    await expect(run(`${site.url}/nowhere/model.json`, "nowhere")).rejects.toMatchObject({
      code: "SUSPECT_URL_HTTP_STATUS",
      message: expect.stringContaining("HTTP 404"),
    });
    await expect(run(`${site.url}/holey/model.json`, "holey")).rejects.toMatchObject({
      code: "MODEL_SHARD_MISSING",
      message: expect.stringContaining("group1-shard1of"),
    });
    await expect(run(`${site.url}/slow/model.json`, "slow", { timeoutMs: 300 })).rejects.toMatchObject({
      code: "SUSPECT_URL_TIMEOUT",
    });
  });
});
