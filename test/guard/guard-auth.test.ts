import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyChain } from "../../src/core/guard/audit-chain.js";
import { loadTf, type TF } from "../../src/model/backend.js";
import { call, instances, nest } from "../serve/helpers.js";
import { type Rig, startRig, testKey } from "./helpers.js";

let tf: TF;
let rig: Rig;
let tensorsBefore: number;
const alice = testKey("alice", "client");
const bob = testKey("bob", "client", { revokedAt: new Date(0).toISOString() });
const carol = testKey("carol", "auditor");
const admin = testKey("root", "admin");
const burst = testKey("burst", "client", { rate: "1/min", burst: 3 });
const quota = testKey("quota", "client", { quota: "2/day" });

beforeAll(async () => {
  tf = (await loadTf("wasm")).tf;
  tensorsBefore = tf.memory().numTensors;
  // every answer waits for its audit entry here, so the file is complete when a test reads it
  rig = await startRig(tf, [alice, bob, carol, admin, burst, quota], { auditWaitForDisk: true });
});

afterAll(async () => {
  await rig?.close();
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

const predictUrl = () => `${rig.guard.url}/v1/models/tiny:predict`;
const body = () => ({ instances: instances(2, 3).map(nest) });
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe("guard access control", () => {
  it("forwards a client's predict and answers as the upstream does", async () => {
    const direct = await call(rig.upstream.predictUrl, { body: body() });
    const r = await call(predictUrl(), { body: body(), headers: bearer(alice.key) });
    expect(r.status).toBe(200);
    expect(r.json).toEqual(direct.json);
    const viaHeader = await call(predictUrl(), { body: body(), headers: { "x-api-key": alice.key } });
    expect(viaHeader.json).toEqual(direct.json);
  });

  it("forwards metadata GETs to any authenticated role", async () => {
    const r = await call(`${rig.guard.url}/v1/models/tiny/metadata`, { headers: bearer(carol.key) });
    expect(r.status).toBe(200);
    expect(r.json.model_spec.name).toBe("tiny");
  });

  it("does not forward requests outside the protocol's routes (no way around the hooks)", async () => {
    for (const path of ["/v1/models/tiny%3Apredict", "//v1/models/tiny:predict", "/v1/models/tiny:regress", "/admin"]) {
      const r = await call(`${rig.guard.url}${path}`, { body: body(), headers: bearer(alice.key) });
      expect(r.status, path).toBe(404);
    }
    const upstreamBefore = rig.upstream.stats().requests;
    await call(`${rig.guard.url}/v1/models/tiny%3Apredict`, { body: body(), headers: bearer(alice.key) });
    expect(rig.upstream.stats().requests).toBe(upstreamBefore);
  });

  it("refuses no key, a wrong key and a revoked key with 401", async () => {
    const none = await call(predictUrl(), { body: body() });
    expect(none.status).toBe(401);
    expect(none.json.error).toMatch(/missing API key/);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const wrong = await call(predictUrl(), { body: body(), headers: bearer(`${alice.key.slice(0, -2)}AA`) });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toBe("unknown API key");
    const revoked = await call(predictUrl(), { body: body(), headers: bearer(bob.key) });
    expect(revoked.status).toBe(401);
    expect(revoked.json.error).toMatch(/revoked/);
  });

  it("refuses a client key on auditor routes and an auditor key on predict (403)", async () => {
    const audit = await call(`${rig.guard.url}/provmark/audit`, { headers: bearer(alice.key) });
    expect(audit.status).toBe(403);
    const alerts = await call(`${rig.guard.url}/provmark/alerts`, { headers: bearer(alice.key) });
    expect(alerts.status).toBe(403);
    const keys = await call(`${rig.guard.url}/provmark/keys`, { headers: bearer(carol.key) });
    expect(keys.status).toBe(403);
    const predict = await call(predictUrl(), { body: body(), headers: bearer(carol.key) });
    expect(predict.status).toBe(403);
    const ok = await call(`${rig.guard.url}/provmark/alerts`, { headers: bearer(carol.key) });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ alerts: [] });
  });

  it("stops a burst past the bucket with 429 and Retry-After", async () => {
    const codes: number[] = [];
    let retry: string | null = null;
    for (let i = 0; i < 5; i++) {
      const r = await call(predictUrl(), { body: body(), headers: bearer(burst.key) });
      codes.push(r.status);
      if (r.status === 429) retry = r.headers.get("retry-after");
    }
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    expect(Number(retry)).toBeGreaterThanOrEqual(1);
    expect(Number(retry)).toBeLessThanOrEqual(60);
  });

  it("stops a client whose daily quota is used up", async () => {
    const codes: number[] = [];
    for (let i = 0; i < 4; i++)
      codes.push((await call(predictUrl(), { body: body(), headers: bearer(quota.key) })).status);
    expect(codes).toEqual([200, 200, 429, 429]);
  });

  it("lets an admin add and revoke keys over HTTP; the new key works until revoked", async () => {
    const added = await call(`${rig.guard.url}/provmark/keys`, {
      body: { name: "dave", role: "client" },
      headers: bearer(admin.key),
    });
    expect(added.status).toBe(201);
    expect(added.json.key).toMatch(/^pmk_[A-Za-z0-9_-]{43}$/);
    expect(added.json.sha256).toBeUndefined();
    const ok = await call(predictUrl(), { body: body(), headers: bearer(added.json.key) });
    expect(ok.status).toBe(200);
    const list = await call(`${rig.guard.url}/provmark/keys`, { headers: bearer(admin.key) });
    expect(JSON.stringify(list.json)).not.toContain(added.json.key);
    expect(list.json.keys.map((k: { name: string }) => k.name)).toContain("dave");
    const gone = await call(`${rig.guard.url}/provmark/keys/${added.json.id}`, {
      method: "DELETE",
      headers: bearer(admin.key),
    });
    expect(gone.status).toBe(200);
    const after = await call(predictUrl(), { body: body(), headers: bearer(added.json.key) });
    expect(after.status).toBe(401);
    const file = await readFile(rig.keysPath, "utf8");
    expect(file).not.toContain(added.json.key);
  });

  it("records every request in a verifying audit chain that auditors can read", async () => {
    const r = await call(`${rig.guard.url}/provmark/audit`, { headers: bearer(carol.key) });
    expect(r.status).toBe(200);
    const text = await readFile(rig.auditPath, "utf8");
    const check = verifyChain(text);
    expect(check.ok).toBe(true);
    // the audit request itself is logged after its answer was made
    expect(check.count).toBe(r.json.head.count + 1);
    const entries = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const decisions = new Set(entries.map((e) => e.decision));
    for (const d of ["forwarded", "refused-401", "refused-403", "refused-429"]) expect(decisions).toContain(d);
    expect(text).not.toContain(alice.key);
    const first = entries.find((e) => e.decision === "forwarded");
    expect(first.client).toBe(alice.record.id);
    expect(first.requestSha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
