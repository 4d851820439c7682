import { type ChildProcess, spawn } from "node:child_process";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageParams } from "../../src/core/watermark/params.js";
import { loadTf } from "../../src/model/backend.js";
import { writeKeyFile } from "../../src/watermark/key-file.js";
import { generateKey } from "../../src/watermark/keygen.js";
import { provmark } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";
import { call, instances, nest, saveTinyModel } from "../serve/helpers.js";

// The built CLI (dist/), as a user runs it: serve --guard in one process, keys and audit commands in others.
const BIN = fileURLToPath(new URL("../../bin/provmark.mjs", import.meta.url));
let home: string;
let dir: string;
let child: ChildProcess | undefined;
let url: string;
let clientKey: string;
let clientId: string;
const env = { PROVMARK_RPC_URL: "", PROVMARK_IPFS_API: "" };
const run = (args: string[]) => provmark(["--data-dir", home, ...args], { env });
const log = () => join(dir, "audit.jsonl");
const body = { instances: instances(1, 1).map(nest) };

beforeAll(async () => {
  const { tf } = await loadTf("wasm");
  const saved = await saveTinyModel(tf);
  saved.model.dispose();
  home = await tempDir("provmark-guard-home-");
  dir = await tempDir("provmark-guard-cli-");
  await writeFile(
    join(dir, "guard.json"),
    JSON.stringify({ schema: "provmark/guard-config/v1", keysFile: "keys.json", auditLog: "audit.jsonl" }),
  );
  const added = await run(["guard", "keys", "add", "--config", join(dir, "guard.json"), "--name", "alice", "--json"]);
  expect(added.code, added.stderr).toBe(0);
  const a = JSON.parse(added.stdout);
  clientKey = a.key;
  clientId = a.id;
  child = spawn(
    process.execPath,
    [BIN, "serve", "--model", saved.dir, "--guard", join(dir, "guard.json"), "--port", "0", "--json"],
    {
      env: { ...process.env, PROVMARK_BACKEND: "wasm" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  const end = Date.now() + 60_000;
  while (!out.includes("\n")) {
    if (Date.now() > end) throw new Error("serve --guard did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  url = JSON.parse(out.split("\n")[0] as string).url;
}, 90_000);

afterAll(() => {
  child?.kill("SIGTERM");
});

describe("provmark serve --guard and the guard commands", () => {
  it("guards the built-in server: a key is needed, the key file holds only its hash (0600)", async () => {
    expect((await call(`${url}/v1/models/tiny:predict`, { body })).status).toBe(401);
    const ok = await call(`${url}/v1/models/tiny:predict`, { body, headers: { authorization: `Bearer ${clientKey}` } });
    expect(ok.status).toBe(200);
    expect(ok.json.predictions).toHaveLength(1);
    expect((await stat(join(dir, "keys.json"))).mode & 0o777).toBe(0o600);
    const keysText = await readFile(join(dir, "keys.json"), "utf8");
    expect(keysText).not.toContain(clientKey);
    const list = await run(["guard", "keys", "list", "--keys", join(dir, "keys.json")]);
    expect(list.stdout).toContain(clientId);
    expect(list.stdout).not.toContain(clientKey);
  });

  it("a key revoked from the CLI is refused by the running guard", async () => {
    const r = await run(["guard", "keys", "revoke", clientId, "--keys", join(dir, "keys.json")]);
    expect(r.code, r.stderr).toBe(0);
    await new Promise((res) => setTimeout(res, 1200));
    const after = await call(`${url}/v1/models/tiny:predict`, { body, headers: { "x-api-key": clientKey } });
    expect(after.status).toBe(401);
    const unknown = await run(["guard", "keys", "revoke", "k_000000000000", "--keys", join(dir, "keys.json")]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("GUARD_KEY_UNKNOWN");
  });

  it("audit verify prints the head; anchor puts it on chain; a later cut or rewrite is caught", async () => {
    const v = await run(["guard", "audit", "verify", log(), "--json"]);
    expect(v.code, v.stderr).toBe(0);
    const first = JSON.parse(v.stdout);
    expect(first).toMatchObject({ ok: true, count: 3, anchors: 0 });
    const a = await run(["guard", "anchor", "--log", log(), "--json"]);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    const anchor = JSON.parse(a.stdout);
    expect(anchor).toMatchObject({ head: first.head, count: 3 });
    expect(anchor.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    const onChain = await run(["guard", "audit", "verify", log(), "--chain", "--json"]);
    expect(onChain.code, onChain.stderr).toBe(0);
    expect(JSON.parse(onChain.stdout).onChain).toEqual([{ head: first.head, count: 3, confirmed: true }]);

    const text = await readFile(log(), "utf8");
    const lines = text.trim().split("\n");
    // truncating the tail after anchoring: the chain alone still verifies, the anchor does not
    await writeFile(log(), `${lines.slice(0, 2).join("\n")}\n`);
    const cut = await run(["guard", "audit", "verify", log()]);
    expect(cut.code).toBe(2);
    expect(cut.stderr).toMatch(/GUARD_AUDIT_INVALID.*truncated/);
    // …even with the anchors file deleted too: --chain finds the anchor on chain
    await writeFile(`${log()}.anchors.json`, JSON.stringify({ schema: "provmark/guard-anchors/v1", anchors: [] }));
    const hidden = await run(["guard", "audit", "verify", log(), "--chain", "--owner", anchor.anchorer]);
    expect(hidden.code).toBe(2);
    expect(hidden.stderr).toMatch(/truncated/);
    // a rewritten entry
    const forged = lines.map((l, i) => (i === 1 ? l.replace('"status":200', '"status":500') : l));
    await writeFile(log(), `${forged.join("\n")}\n`);
    const rewritten = await run(["guard", "audit", "verify", log()]);
    expect(rewritten.code).toBe(2);
    expect(rewritten.stderr).toMatch(/line 2: hash does not match/);
  }, 120_000);
});

describe("provmark guard refuses a bad start", () => {
  it("lists every problem of the config, and needs auth off loopback", async () => {
    const d = await tempDir("provmark-guard-bad-");
    await writeFile(
      join(d, "bad.json"),
      JSON.stringify({
        schema: "provmark/guard-config/v1",
        keysFile: 3,
        limits: { maxConnections: 0 },
        defaults: { quota: "lots" },
      }),
    );
    const bad = await run(["guard", "--upstream", "http://127.0.0.1:1", "--config", join(d, "bad.json")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("GUARD_CONFIG_INVALID");
    for (const part of ["keysFile", "limits.maxConnections", "defaults.quota"]) expect(bad.stderr).toContain(part);
    await writeFile(join(d, "open.json"), JSON.stringify({ schema: "provmark/guard-config/v1", auth: false }));
    const open = await run([
      "guard",
      "--upstream",
      "http://127.0.0.1:1",
      "--config",
      join(d, "open.json"),
      "--host",
      "0.0.0.0",
    ]);
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/USAGE.*only with auth on/);
    const missing = await run(["guard", "--config", join(d, "open.json")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("needs --upstream");
  });

  it("serve --guard refuses a key made for another model (the defence would skip every request)", async () => {
    const d = await tempDir("provmark-guard-key-");
    const { tf } = await loadTf("wasm");
    const saved = await saveTinyModel(tf);
    saved.model.dispose();
    const key = await generateKey(
      imageParams({
        classes: 10,
        inputShape: [28, 28, 1],
        layer: "dense1",
        bits: 16,
        triggers: 100,
        family: "noise",
        stampStrength: 0.3,
      }),
    );
    await writeKeyFile(join(d, "mnist.key"), key, "guard-cli-pass");
    await writeFile(
      join(d, "guard.json"),
      JSON.stringify({ schema: "provmark/guard-config/v1", auth: false, dawn: { log: "dawn.log" } }),
    );
    const r = await provmark(
      [
        "--data-dir",
        home,
        "serve",
        "--model",
        saved.dir,
        "--guard",
        join(d, "guard.json"),
        "--key",
        join(d, "mnist.key"),
        "--port",
        "0",
      ],
      { env: { ...env, PROVMARK_PASSPHRASE: "guard-cli-pass" } },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("KEY_MODEL_MISMATCH");
    await expect(stat(join(d, "dawn.log"))).rejects.toMatchObject({ code: "ENOENT" });
  }, 60_000);
});
