import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toHex } from "../../src/core/digest/bytes.js";
import { imageParams } from "../../src/core/watermark/params.js";
import { loadTf } from "../../src/model/backend.js";
import { loadDataset } from "../../src/model/datasets/index.js";
import { type ModelServer, startModelServer } from "../../src/serve/model-server.js";
import { writeKeyFile } from "../../src/watermark/key-file.js";
import { generateKey } from "../../src/watermark/keygen.js";
import { slice, trainSaved, trainSurrogate, writeDawnFixture } from "../detect/helpers/dawn-fixture.js";
import { provmark } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";

// Through the built CLI: the guard's DAWN log, a surrogate trained on its altered answers behind a
// real server, and the usage errors a wrong invocation must get.
const PASS = "dawn-cli-passphrase";
const params = imageParams({
  classes: 10,
  inputShape: [28, 28, 1],
  layer: "dense1",
  bits: 16,
  triggers: 20,
  family: "noise",
  stampStrength: 0.3,
});
let dir: string;
let seedHex: string;
let server: ModelServer;
const env = { PROVMARK_PASSPHRASE: PASS };

beforeAll(async () => {
  const { tf } = await loadTf("wasm");
  const mnist = await loadDataset("mnist");
  dir = await tempDir("provmark-dawn-cli-");
  const key = await generateKey(params);
  seedHex = toHex(key.seed);
  await writeKeyFile(join(dir, "k.key"), key, PASS);
  await writeKeyFile(join(dir, "other.key"), await generateKey(params), PASS);
  const victimDir = await trainSaved(tf, mnist, slice(mnist.train, 0, 2000), {
    seed: 3,
    epochs: 3,
    out: join(dir, "victim"),
  });
  const thief = slice(mnist.test, 0, 40);
  const [stolen] = await writeDawnFixture(tf, {
    seed: key.seed,
    victimDir,
    mnist,
    path: join(dir, "dawn.log"),
    clients: [
      { client: "thief", split: thief },
      { client: "honest", split: slice(mnist.test, 100, 20) },
    ],
  });
  const out = await trainSurrogate(tf, {
    mnist,
    victimDir,
    stolen: thief,
    altered: (stolen ?? []).map((q) => q.servedLabel),
    clean: slice(mnist.train, 4000, 1000),
    out: join(dir, "surrogate"),
  });
  server = await startModelServer({ modelDir: out, port: 0, modelName: "m", backend: "wasm" });
}, 600_000);
afterAll(() => server?.close());

const detect = (...extra: string[]) =>
  provmark(
    [
      "--data-dir",
      join(dir, "home"),
      "detect",
      "--dawn-log",
      join(dir, "dawn.log"),
      "--endpoint",
      server.url,
      "--protocol",
      "tfserving",
      "--model-name",
      "m",
      "--json",
      ...extra,
    ],
    { env },
  );

describe("provmark detect --dawn-log", () => {
  it("finds the surrogate stolen; evidence verify says VALID, and INVALID once an answer is edited", async () => {
    const r = await detect("--key", join(dir, "k.key"), "--report", join(dir, "report"));
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o).toMatchObject({ kind: "dawn", verdict: "stolen", client: "thief", multiplicity: 2, planned: 40 });
    expect(o.pValue).toBeLessThanOrEqual(1e-6);
    const v = await provmark(["evidence", "verify", join(dir, "report"), "--json"]);
    expect(v.code, v.stdout).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ kind: "dawn", ok: true, recomputed: { verdict: "stolen" } });
    const report = JSON.parse(await readFile(join(dir, "report", "report.json"), "utf8"));
    const q = report.queries.find(
      (x: { kind: string; got: number; expected: number }) => x.kind === "watermark" && x.got !== x.expected,
    );
    q.got = q.expected;
    await writeFile(join(dir, "report", "report.json"), JSON.stringify(report));
    const bad = await provmark(["evidence", "verify", join(dir, "report")]);
    expect(bad.code).toBe(3);
    expect(bad.stdout).toMatch(/^INVALID: DAWN evidence/);
    expect(bad.stdout).toMatch(/FAIL answers/);
  }, 300_000);

  it("dawn-log show counts records per client and never prints the key", async () => {
    const r = await provmark(["dawn-log", "show", join(dir, "dawn.log"), "--key", join(dir, "k.key"), "--json"], {
      env,
    });
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.records).toBe(60);
    expect(o.clients.map((c: { client: string; records: number }) => [c.client, c.records])).toEqual([
      ["thief", 40],
      ["honest", 20],
    ]);
    expect(r.stdout + r.stderr).not.toContain(seedHex);
    expect(r.stdout + r.stderr).not.toContain(PASS);
  });

  it("usage errors exit 2: no --key, an unknown client, another key file, a certificate flag", async () => {
    const noKey = await detect();
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/--key/);
    const unknown = await detect("--key", join(dir, "k.key"), "--client", "mallory");
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout).error).toMatchObject({ code: "USAGE", subject: "--client" });
    expect(JSON.parse(unknown.stdout).error.hints.join()).toMatch(/thief, honest/);
    const wrong = await detect("--key", join(dir, "other.key"));
    expect(wrong.code).toBe(2);
    expect(JSON.parse(wrong.stdout).error.code).toBe("DAWN_LOG_WRONG_KEY");
    const cert = await detect("--key", join(dir, "k.key"), "--cert", join(dir, "victim"));
    expect(cert.code).toBe(2);
    expect(JSON.parse(cert.stdout).error.message).toMatch(/--cert does not apply to --dawn-log/);
    const show = await provmark(["dawn-log", "show", join(dir, "dawn.log"), "--key", join(dir, "other.key")], { env });
    expect(show.code).toBe(2);
    expect(show.stderr).toMatch(/DAWN_LOG_WRONG_KEY/);
  }, 120_000);
});
