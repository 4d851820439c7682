import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ModelServer, startModelServer } from "../../src/serve/model-server.js";
import { provmark, snapshotTree } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";
import { startGate, trainVictim } from "../lab/extract-helpers.js";

// `provmark attack extract` as a user runs it (dist/), against a real model server on 127.0.0.1.
let server: ModelServer;
let dir: string;

beforeAll(async () => {
  const victim = await trainVictim();
  server = await startModelServer({ modelDir: victim.dir, port: 0, backend: "wasm" });
  dir = await tempDir("provmark-extract-cli-");
});

afterAll(async () => {
  await server?.close();
});

const args = (out: string, more: string[] = []) => [
  "attack",
  "extract",
  "--endpoint",
  server.url,
  "--model-name",
  server.modelName,
  "--out",
  out,
  ...more,
];

describe("provmark attack extract", () => {
  it("trains a surrogate through the API and reports exact query counts", async () => {
    const before = server.stats().instances;
    const out = join(dir, "stolen");
    const r = await provmark(args(out, ["--queries", "600", "--agreement", "200", "--epochs", "6", "--json"]));
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.queries).toMatchObject({ budget: 600, sent: 600, answered: 600, failed: 0, agreementSent: 200 });
    expect(server.stats().instances - before).toBe(800);
    expect(o.agreement).toBeGreaterThanOrEqual(0.75);
    expect(JSON.parse(await readFile(join(out, "extract.json"), "utf8")).queries.sent).toBe(600);
    expect((await stat(join(out, "model.json"))).isFile()).toBe(true);
    const text = await provmark(args(join(dir, "stolen-text"), ["--queries", "64", "--epochs", "1"]));
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain("64 sent, 64 answered, 0 failed");
  });

  it("a keyed API: without the key exit 2 with EXTRACT_UNAUTHORIZED; with --header env:VAR it works", async () => {
    const gate = await startGate(server.url, { token: "pmk_cli_secret_0001" });
    try {
      const base = ["attack", "extract", "--endpoint", gate.url, "--model-name", server.modelName];
      const denied = await provmark([...base, "--out", join(dir, "denied"), "--queries", "64", "--json"]);
      expect(denied.code).toBe(2);
      expect(JSON.parse(denied.stdout).error.code).toBe("EXTRACT_UNAUTHORIZED");
      const ok = await provmark(
        [
          ...base,
          "--out",
          join(dir, "keyed"),
          "--queries",
          "64",
          "--epochs",
          "1",
          "--header",
          "Authorization: env:THIEF_KEY",
          "--json",
        ],
        { env: { THIEF_KEY: "Bearer pmk_cli_secret_0001" } },
      );
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout + ok.stderr).not.toContain("pmk_cli_secret_0001");
    } finally {
      await gate.close();
    }
  });

  it("bad flags exit 2 with a coded message and write nothing", async () => {
    const before = await snapshotTree(dir);
    const requests = server.stats().requests;
    for (const bad of [
      ["--queries", "0"],
      ["--queries", "100", "--strategy", "steal"],
      ["--queries", "100", "--answers", "logits"],
      ["--queries", "100", "--arch", "resnet"],
      ["--queries", "100", "--lambda", "3"],
      ["--queries", "100", "--protocol", "local"],
      ["--queries", "100", "--header", "no colon here"],
    ]) {
      const r = await provmark(args(join(dir, "bad"), bad));
      expect(r.code, `${bad.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const missing = await provmark(["attack", "extract", "--endpoint", server.url, "--out", join(dir, "bad")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--queries");
    expect(await snapshotTree(dir)).toEqual(before);
    expect(server.stats().requests).toBe(requests);
  });
});
