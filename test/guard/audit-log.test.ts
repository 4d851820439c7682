import { appendFile, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { verifyChain } from "../../src/core/guard/audit-chain.js";
import { openAuditLog } from "../../src/guard/audit-log.js";
import { parseGuardConfig } from "../../src/guard/guard-config.js";
import { readKeysFile } from "../../src/guard/keys-file.js";
import { tempDir } from "../helpers/fixtures.js";

const record = (status: number) => ({
  time: new Date(0).toISOString(),
  client: null,
  method: "GET",
  path: "/v2",
  requestSha256: "0".repeat(64),
  responseSha256: "1".repeat(64),
  status,
  decision: "forwarded" as const,
  altered: false,
});

describe("audit log file", () => {
  it("appends concurrently into one chain (0600) and continues it after a restart", async () => {
    const path = join(await tempDir(), "audit.jsonl");
    const a = await openAuditLog(path);
    await Promise.all(Array.from({ length: 50 }, (_, i) => a.log.append(record(200 + i))));
    await a.log.close();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const b = await openAuditLog(path);
    expect(b.tornBytes).toBe(0);
    await b.log.append(record(404));
    await b.log.close();
    const c = verifyChain(await readFile(path, "utf8"));
    expect(c).toMatchObject({ ok: true, count: 51 });
  });

  it("cuts off and reports a torn last line (a crash mid-append), then appends cleanly", async () => {
    const path = join(await tempDir(), "audit.jsonl");
    const a = await openAuditLog(path);
    await a.log.append(record(200));
    await a.log.append(record(201));
    await a.log.close();
    await appendFile(path, '{"time":"2026-01-01T00:00:00.000Z","client":nu');
    const b = await openAuditLog(path);
    expect(b.tornBytes).toBe(46);
    await b.log.append(record(202));
    await b.log.close();
    expect(verifyChain(await readFile(path, "utf8"))).toMatchObject({ ok: true, count: 3 });
  });

  it("keeps a whole last entry that lost only its newline, and appends on a new line", async () => {
    const path = join(await tempDir(), "audit.jsonl");
    const a = await openAuditLog(path);
    await a.log.append(record(200));
    await a.log.close();
    const text = await readFile(path, "utf8");
    await writeFile(path, text.slice(0, -1));
    const b = await openAuditLog(path);
    expect(b.tornBytes).toBe(0);
    await b.log.append(record(201));
    await b.log.close();
    expect(verifyChain(await readFile(path, "utf8"))).toMatchObject({ ok: true, count: 2 });
  });

  it("refuses to append to a log whose chain is broken", async () => {
    const path = join(await tempDir(), "audit.jsonl");
    const a = await openAuditLog(path);
    await a.log.append(record(200));
    await a.log.append(record(201));
    await a.log.close();
    const lines = (await readFile(path, "utf8")).trim().split("\n");
    await writeFile(path, `${lines[1]}\n`);
    await expect(openAuditLog(path)).rejects.toMatchObject({ code: "GUARD_AUDIT_INVALID" });
  });
});

describe("config and keys file validation", () => {
  it("lists every problem of a config at once", () => {
    let message = "";
    try {
      parseGuardConfig(
        {
          schema: "provmark/guard-config/v1",
          keysFile: 3,
          limits: { maxConnections: 0, bogus: 1 },
          defaults: { rate: "x" },
        },
        "/",
        "g.json",
      );
    } catch (e) {
      expect(e).toMatchObject({ code: "GUARD_CONFIG_INVALID" });
      message = (e as Error).message;
    }
    for (const part of ["keysFile", "limits.maxConnections", "bogus", "defaults.rate"]) expect(message).toContain(part);
  });

  it("needs a keys file while auth is on", () => {
    expect(() => parseGuardConfig({ schema: "provmark/guard-config/v1" }, "/", "g.json")).toThrow(/keysFile: needed/);
  });

  it("lists every problem of a keys file at once", async () => {
    const path = join(await tempDir(), "keys.json");
    const bad = { id: "k_000000000001", name: "a", role: "root", sha256: "xyz", createdAt: "now", rate: "fast" };
    await writeFile(
      path,
      JSON.stringify({ schema: "provmark/guard-keys/v1", keys: [bad, { ...bad, role: "client" }] }),
    );
    const e = await readKeysFile(path).catch((x: unknown) => x as Error);
    expect(e).toMatchObject({ code: "GUARD_KEYS_INVALID" });
    for (const part of ["keys.0.role", "keys.0.sha256", "keys.0.rate", "keys.1.sha256"]) {
      expect((e as Error).message).toContain(part);
    }
  });
});
