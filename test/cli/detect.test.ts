import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageParams, type WatermarkParams } from "../../src/core/watermark/params.js";
import { trainModel } from "../../src/model/train-model.js";
import { type ModelServer, startModelServer } from "../../src/serve/model-server.js";
import { embedWatermark } from "../../src/watermark/embed.js";
import { writeKeyFile } from "../../src/watermark/key-file.js";
import { generateKey } from "../../src/watermark/keygen.js";
import { provmark } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";
import { writeToyIdx } from "../helpers/idx.js";
import { proxy } from "../helpers/proxy.js";

// End to end through the CLI: a marked toy model and an independent one, each behind a real
// `startModelServer` on 127.0.0.1; detect both, then re-check and tamper with the evidence.
const params: WatermarkParams = imageParams({
  classes: 3,
  inputShape: [8, 8, 1],
  layer: "dense1",
  bits: 16,
  triggers: 40,
  family: "noise",
  stampStrength: 0.3,
});
const PASS = "detect-test-passphrase";
let dir: string;
let marked: ModelServer;
let other: ModelServer;

beforeAll(async () => {
  dir = await tempDir();
  const data = join(dir, "data");
  await import("node:fs/promises").then((fs) => fs.mkdir(data));
  await writeToyIdx(data);
  const dataset = `idx:${data}`;
  for (const [name, seed] of [
    ["base", 1],
    ["other", 2],
  ] as const) {
    await trainModel({ dataset, arch: "mlp", out: join(dir, name), seed, epochs: 4, backend: "wasm" });
  }
  const key = await generateKey(params);
  await writeKeyFile(join(dir, "k.key"), key, PASS);
  await embedWatermark({
    model: join(dir, "base"),
    keyPath: "k.key",
    key,
    dataset,
    out: join(dir, "marked"),
    backend: "wasm",
    settings: { maxEpochs: 60 },
  });
  marked = await startModelServer({ modelDir: join(dir, "marked"), port: 0, modelName: "suspect", backend: "wasm" });
  other = await startModelServer({ modelDir: join(dir, "other"), port: 0, modelName: "suspect", backend: "wasm" });
});

afterAll(async () => {
  await marked?.close();
  await other?.close();
});

const detect = (url: string, report: string, ...extra: string[]) =>
  provmark(
    [
      "--data-dir",
      join(dir, "home"),
      "detect",
      "--endpoint",
      url,
      "--model-name",
      "suspect",
      "--key",
      join(dir, "k.key"),
      "--cert",
      join(dir, "marked"),
      "--decoys",
      `idx:${join(dir, "data")}`,
      "--report",
      join(dir, report),
      "--json",
      ...extra,
    ],
    { env: { PROVMARK_PASSPHRASE: PASS } },
  );

describe("provmark detect against served models", () => {
  it("finds the watermark in the marked model (exit 0) and writes evidence that re-checks", async () => {
    const r = await detect(marked.url, "report-marked");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ verdict: "stolen", n: 20, failures: 0 });
    expect(out.matches).toBeGreaterThanOrEqual(18);
    expect(out.pValue).toBeLessThan(1e-6);
    const report = JSON.parse(await readFile(out.reportPath, "utf8"));
    expect(report.queries.filter((q: { kind: string }) => q.kind === "decoy")).toHaveLength(60);
    expect(report.reveal.triggers).toHaveLength(20);
    const html = await readFile(out.htmlPath, "utf8");
    expect(html).toContain("<svg");
    expect(html).toContain(`${out.matches}`);

    const ok = await provmark(["evidence", "verify", join(dir, "report-marked"), "--json"]);
    expect(ok.code, ok.stdout).toBe(0);
    expect(JSON.parse(ok.stdout).checks.every((c: { status: string }) => c.status === "pass")).toBe(true);

    // an altered answer, a swapped body and a forged label are each caught
    const tampered = join(dir, "report-tampered");
    await cp(join(dir, "report-marked"), tampered, { recursive: true });
    const t = JSON.parse(await readFile(join(tampered, "report.json"), "utf8"));
    const q = t.queries.find((x: { kind: string; got: number | null }) => x.kind === "trigger" && x.got !== null);
    q.got = (q.got + 1) % 3;
    await writeFile(join(tampered, "report.json"), JSON.stringify(t));
    const bad = await provmark(["evidence", "verify", tampered, "--json"]);
    expect(bad.code).toBe(3);
    const failed = JSON.parse(bad.stdout)
      .checks.filter((c: { status: string }) => c.status === "fail")
      .map((c: { name: string }) => c.name);
    expect(failed).toContain("answers and failures re-read from the response bodies");

    await writeFile(join(tampered, "bodies", q.responseSha256), "{}");
    const swapped = JSON.parse((await provmark(["evidence", "verify", tampered, "--json"])).stdout);
    expect(swapped.checks.find((c: { name: string }) => c.name === "bodies match their SHA-256").status).toBe("fail");
  });

  it("--digest takes the certificate from the chain + IPFS; --anchor stores the evidence and files a claim", async () => {
    const home = ["--data-dir", join(dir, "home")];
    const reg = await provmark([...home, "register", "--model", join(dir, "marked"), "--name", "toy", "--json"], {
      env: { PROVMARK_RPC_URL: "", PROVMARK_IPFS_API: "" },
    });
    expect(reg.code, reg.stdout + reg.stderr).toBe(0);
    const { digest, registeredAt, modelId, owner } = JSON.parse(reg.stdout);
    const r = await provmark(
      [
        ...home,
        "detect",
        "--endpoint",
        marked.url,
        "--model-name",
        "suspect",
        "--key",
        join(dir, "k.key"),
        "--digest",
        digest,
        "--anchor",
        "--decoys",
        "none",
        "--report",
        join(dir, "report-anchored"),
        "--json",
      ],
      { env: { PROVMARK_PASSPHRASE: PASS, PROVMARK_RPC_URL: "", PROVMARK_IPFS_API: "" } },
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.claim.claimId).toBe("1");
    expect(out.claim.evidenceCid).toMatch(/^baf/);
    const report = JSON.parse(await readFile(out.reportPath, "utf8"));
    // the report names whose registration it cites, for evidence verify --chain to check
    expect(report.onChain).toMatchObject({ digest, registeredAt, chainId: "31337", modelId, owner });
    expect(Date.parse(report.onChain.registeredAt)).toBeLessThanOrEqual(Date.parse(report.run.startedAt));
    const html = await readFile(out.htmlPath, "utf8");
    expect(html).toContain(registeredAt);

    const env = { env: { PROVMARK_RPC_URL: "", PROVMARK_IPFS_API: "" } };
    const chained = await provmark(
      [...home, "evidence", "verify", join(dir, "report-anchored"), "--chain", "--json"],
      env,
    );
    expect(chained.code, chained.stdout + chained.stderr).toBe(0);
    const last = JSON.parse(chained.stdout).checks.at(-1);
    expect(last).toMatchObject({ name: "on-chain record re-read from the chain", status: "pass" });
    expect(report.planAnchor).toMatchObject({ chainId: "31337" });
    expect(last.detail).toContain("run plan anchored before the first query; 1 anchored run(s)");
    // The first test's run against this suspect is in the same run directory: block 1, factor 2.
    expect(report.committedPlans).toHaveLength(2);
    expect(JSON.parse(chained.stdout).recomputed.multiplicity).toBe(2);

    // A rerun kept out of the report (another run directory) is still found on chain and counted.
    const hidden = await provmark(
      [
        ...home,
        "detect",
        "--endpoint",
        marked.url,
        "--model-name",
        "suspect",
        "--key",
        join(dir, "k.key"),
        "--digest",
        digest,
        "--anchor",
        "--decoys",
        "none",
        "--run",
        join(dir, "hidden-run"),
        "--report",
        join(dir, "report-hidden"),
        "--json",
      ],
      { env: { PROVMARK_PASSPHRASE: PASS, PROVMARK_RPC_URL: "", PROVMARK_IPFS_API: "" } },
    );
    expect(hidden.code, hidden.stdout + hidden.stderr).toBe(0);
    const recount = await provmark(
      [...home, "evidence", "verify", join(dir, "report-anchored"), "--chain", "--json"],
      env,
    );
    const recounted = JSON.parse(recount.stdout);
    expect(recounted.recomputed.multiplicity).toBe(3);
    expect(recounted.checks.at(-1).detail).toContain("2 anchored run(s)");
    // after revocation, the chain no longer backs the evidence
    expect((await provmark([...home, "revoke", digest, "--reason", "test"], env)).code).toBe(0);
    const revoked = await provmark(
      [...home, "evidence", "verify", join(dir, "report-anchored"), "--chain", "--json"],
      env,
    );
    expect(revoked.code).toBe(3);
    expect(JSON.parse(revoked.stdout).checks.at(-1).detail).toContain("revoked");
  });

  it("does not accuse an independently trained model (exit 3); references give an empirical null", async () => {
    const withRefs = await detect(
      marked.url,
      "report-refs",
      "--reference",
      join(dir, "other"),
      "--reference",
      join(dir, "base"),
    );
    expect(withRefs.code, withRefs.stdout + withRefs.stderr).toBe(0);
    const refOut = JSON.parse(withRefs.stdout);
    expect(refOut.verdict).toBe("stolen");
    // neither unmarked model matches as often as the marked one: (1 + 0) / (1 + 2)
    expect(refOut.empiricalPValue).toBeCloseTo(1 / 3, 12);
    const refReport = JSON.parse(await readFile(refOut.reportPath, "utf8"));
    expect(refReport.result.empirical.referenceMatches.every((m: number) => m < refOut.matches)).toBe(true);

    const r = await detect(other.url, "report-other");
    expect(r.code, r.stdout + r.stderr).toBe(3);
    const out = JSON.parse(r.stdout);
    expect(out.verdict).toBe("not-detected");
    expect(out.n).toBe(20);
    expect(out.matches).toBeLessThan(14);
  });

  it("faults in front of the suspect: retried 5xx/429 still convict; an HTML-only answerer is inconclusive", async () => {
    // a proxy that fails every third request (500, or 429 with Retry-After) before passing it on
    let n = 0;
    const flaky = await proxy(marked.url, (res) => {
      n++;
      if (n % 3 === 1) {
        res.writeHead(n % 2 ? 500 : 429, { "retry-after": "0", "content-type": "text/plain" });
        res.end("busy");
        return true;
      }
      return false;
    });
    try {
      const r = await detect(flaky.url, "report-flaky");
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ verdict: "stolen", failures: 0, n: 20 });
      const report = JSON.parse(await readFile(join(dir, "report-flaky", "report.json"), "utf8"));
      expect(report.stats.retries).toBeGreaterThan(0);
    } finally {
      flaky.server.close();
    }
    const html = await proxy(marked.url, (res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html><body>maintenance</body></html>");
      return true;
    });
    try {
      const r = await detect(html.url, "report-html");
      expect(r.code, r.stdout + r.stderr).toBe(4);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ verdict: "inconclusive", n: 0, failures: 20 });
      const report = JSON.parse(await readFile(join(dir, "report-html", "report.json"), "utf8"));
      expect(report.stats.failuresByKind).toEqual({ malformed: 80 });
    } finally {
      html.server.close();
    }
  });

  it("a dead endpoint makes every query fail: inconclusive (exit 4), never not-detected", async () => {
    const r = await detect(
      "http://127.0.0.1:9",
      "report-dead",
      "--retries",
      "0",
      "--timeout",
      "2000",
      "--decoy-ratio",
      "0",
    );
    expect(r.code, r.stdout + r.stderr).toBe(4);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ verdict: "inconclusive", n: 0, failures: 20 });
  });
});
