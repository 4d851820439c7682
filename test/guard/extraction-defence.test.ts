import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toHex } from "../../src/core/digest/bytes.js";
import { legacyModelIO } from "../../src/core/input/model-io.js";
import { keyCommitment } from "../../src/core/keys/derive.js";
import { createRng, permutation } from "../../src/core/rng.js";
import { openDawnLogWriter, readDawnLog } from "../../src/guard/dawn-log.js";
import { openDefence } from "../../src/guard/defence-config.js";
import { createExtractionDefence } from "../../src/guard/extraction-defence.js";
import { parseGuardConfig } from "../../src/guard/guard-config.js";
import { type GuardServer, startGuard } from "../../src/guard/guard-server.js";
import { emptyKeysFile, writeKeysFile } from "../../src/guard/keys-file.js";
import { loadTf, type TF } from "../../src/model/backend.js";
import type { ImageDataset } from "../../src/model/datasets/dataset.js";
import { loadDataset } from "../../src/model/datasets/index.js";
import { type ModelServer, startModelServer } from "../../src/serve/model-server.js";
import { slice, trainSaved } from "../detect/helpers/dawn-fixture.js";
import { tempDir } from "../helpers/fixtures.js";
import { testKey } from "./helpers.js";

// The guard with its extraction defence on, in front of a real MNIST model: DAWN alters a keyed
// fraction of answers consistently and logs exactly those; PRADA flags Jacobian-style query streams
// (and not a natural user's), and its action (block, throttle) and webhook take effect.
const io = legacyModelIO([28, 28, 1], 10);
const PX = 784;
const seed = new Uint8Array(32).fill(7);
let tf: TF;
let mnist: ImageDataset;
let server: ModelServer;
let tensorsBefore: number;
let victimDir: string;

beforeAll(async () => {
  tf = (await loadTf("wasm")).tf;
  mnist = await loadDataset("mnist");
  order = Array.from(permutation(mnist.test.count, createRng(9, "defence-test/order")));
  const dir = await tempDir("provmark-defence-");
  victimDir = await trainSaved(tf, mnist, slice(mnist.train, 0, 3000), {
    seed: 1,
    epochs: 3,
    out: join(dir, "victim"),
  });
  tensorsBefore = tf.memory().numTensors;
  server = await startModelServer({ modelDir: victimDir, port: 0, modelName: "victim", backend: "wasm" });
}, 120_000);

afterAll(async () => {
  await server?.close();
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

interface Rig {
  guard: GuardServer;
  dir: string;
  keys: Record<string, string>;
  ids: Record<string, string>;
  close(): Promise<void>;
  alerts(): unknown[];
}

async function rig(section: Record<string, unknown>, names = ["thief", "honest", "auditor"]): Promise<Rig> {
  const dir = await tempDir("provmark-defence-rig-");
  const made = names.map((n) => testKey(n, n === "auditor" ? "auditor" : "client"));
  await writeKeysFile(join(dir, "keys.json"), { ...emptyKeysFile(), keys: made.map((k) => k.record) });
  const config = parseGuardConfig(
    { schema: "provmark/guard-config/v1", keysFile: "keys.json", auditLog: "audit.jsonl", ...section },
    dir,
    "guard.json",
  );
  const opened = await openDefence(config, { io, seed });
  const guard = await startGuard({
    upstream: server.url,
    protocol: "tfserving",
    config,
    port: 0,
    io,
    ...(opened === undefined ? {} : { hooks: opened.defence }),
  });
  return {
    guard,
    dir,
    keys: Object.fromEntries(made.map((k) => [k.record.name, k.key])),
    ids: Object.fromEntries(made.map((k) => [k.record.name, k.record.id])),
    alerts: () => opened?.defence.alerts() ?? [],
    close: async () => {
      await guard.close();
      await opened?.close();
    },
  };
}

const instance = (x: ArrayLike<number>) =>
  Array.from({ length: 28 }, (_, r) => Array.from({ length: 28 }, (_, c) => [x[r * 28 + c] as number]));

async function predict(url: string, key: string, rows: ArrayLike<number>[]) {
  const res = await fetch(`${url}/v1/models/victim:predict`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ instances: rows.map(instance) }),
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as { predictions?: number[][]; error?: string } };
}

// The split is stored class by class; users send a shuffled mix.
let order: number[] = [];
const digit = (i: number) => {
  const j = order[i] as number;
  return mnist.test.x.subarray(j * PX, (j + 1) * PX);
};
const top = (p: number[]) => p.indexOf(Math.max(...p));

describe("DAWN answers through the guard", () => {
  let r: Rig;
  let direct: number[][];
  let guarded: number[][];
  const N = 400;
  beforeAll(async () => {
    r = await rig({ dawn: { rate: 0.25, log: "dawn.log" } });
    const rows = Array.from({ length: N }, (_, i) => digit(i));
    direct = [];
    guarded = [];
    for (let s = 0; s < N; s += 100) {
      direct.push(...((await predict(server.url, "", rows.slice(s, s + 100))).body.predictions ?? []));
      guarded.push(
        ...((await predict(r.guard.url, r.keys.thief as string, rows.slice(s, s + 100))).body.predictions ?? []),
      );
    }
  });
  afterAll(async () => r?.close());

  it("alters about the rate's share, swapping the top score onto another class", () => {
    expect(guarded).toHaveLength(N);
    let altered = 0;
    for (let i = 0; i < N; i++) {
      const d = direct[i] as number[];
      const g = guarded[i] as number[];
      if (top(d) === top(g)) {
        expect(g).toEqual(d);
        continue;
      }
      altered++;
      // the multiset of scores is kept: the served class's score moved to the new label
      expect([...g].sort()).toEqual([...d].sort());
      expect(g[top(g)]).toBeCloseTo(d[top(d)] as number, 6);
    }
    // 25% of distinct robust hashes: binomial bounds (±5 sd) on 400 digits, some sharing a hash
    expect(altered).toBeGreaterThan(50);
    expect(altered).toBeLessThan(150);
  });

  it("logs exactly the altered answers, encrypted, with the served and the model's labels", async () => {
    const log = await readDawnLog(join(r.dir, "dawn.log"), seed, { client: r.ids.thief as string });
    const alteredIdx = guarded.map((g, i) => (top(g) !== top(direct[i] as number[]) ? i : -1)).filter((i) => i >= 0);
    expect(log.records).toHaveLength(alteredIdx.length);
    for (const [k, rec] of log.records.entries()) {
      const i = alteredIdx[k] as number;
      expect(rec.servedLabel).toBe(top(guarded[i] as number[]));
      expect(rec.modelLabel).toBe(top(direct[i] as number[]));
      expect(Array.from(rec.input)).toEqual(Array.from(digit(i)));
    }
    expect(log.meta.keyCommitment).toBe(toHex(keyCommitment(seed)));
  });

  it("gives a repeated or slightly noisy query the same altered answer (no averaging it away)", async () => {
    const alteredIdx = guarded.map((g, i) => (top(g) !== top(direct[i] as number[]) ? i : -1)).filter((i) => i >= 0);
    const rng = createRng(3, "defence-test/noise");
    let same = 0;
    for (const i of alteredIdx.slice(0, 20)) {
      const again = (await predict(r.guard.url, r.keys.thief as string, [digit(i)])).body.predictions?.[0] as number[];
      expect(again).toEqual(guarded[i]);
      const noisy = digit(i).map((v) => Math.min(1, Math.max(0, v + (rng.next() - 0.5) * 0.02)));
      const n = (await predict(r.guard.url, r.keys.thief as string, [noisy])).body.predictions?.[0] as number[];
      if (top(n) === top(guarded[i] as number[])) same++;
    }
    expect(same).toBeGreaterThanOrEqual(16);
  });

  it("decides per client: another client's altered inputs are mostly other ones", async () => {
    const rows = Array.from({ length: N }, (_, i) => digit(i));
    const honest: number[][] = [];
    for (let s = 0; s < N; s += 100) {
      honest.push(
        ...((await predict(r.guard.url, r.keys.honest as string, rows.slice(s, s + 100))).body.predictions ?? []),
      );
    }
    const a = new Set(guarded.map((g, i) => (top(g) !== top(direct[i] as number[]) ? i : -1)).filter((i) => i >= 0));
    const b = honest.map((g, i) => (top(g) !== top(direct[i] as number[]) ? i : -1)).filter((i) => i >= 0);
    const both = b.filter((i) => a.has(i)).length;
    // independent at 25%: about a quarter of b overlaps; identical keys per client would give all of it
    expect(both / b.length).toBeLessThan(0.5);
  });
});

/** Papernot-shaped queries without a surrogate: 10 seed digits, then rounds of x ± 0.1·sign(random). */
function jbdaRows(n: number): Float32Array[] {
  const rng = createRng(5, "defence-test/jbda");
  const out = Array.from({ length: 10 }, (_, i) => Float32Array.from(digit(500 + i)));
  while (out.length < n) {
    const round = out.length;
    for (let j = 0; j < round && out.length < n; j++) {
      out.push((out[j] as Float32Array).map((v) => Math.min(1, Math.max(0, v + (rng.next() < 0.5 ? -0.1 : 0.1)))));
    }
  }
  return out;
}

describe("PRADA monitoring through the guard", () => {
  let hook: Server;
  const received: unknown[] = [];
  let hookUrl: string;
  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        received.push(JSON.parse(body));
        res.end("ok");
      });
    });
    await new Promise<void>((ok) => hook.listen(0, "127.0.0.1", ok));
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`;
  });
  afterAll(async () => new Promise<void>((ok) => hook.close(() => ok())));

  it("blocks a Jacobian-style query stream, tells the webhook and the auditors, and leaves a natural user alone", async () => {
    const r = await rig({ monitor: { action: "block", webhook: hookUrl } });
    try {
      const attack = jbdaRows(600);
      let blockedAt: number | null = null;
      for (let s = 0; s < attack.length; s += 10) {
        const a = await predict(r.guard.url, r.keys.thief as string, attack.slice(s, s + 10));
        if (a.status === 403) {
          blockedAt = s + 10;
          expect(a.body.error).toMatch(/extraction/);
          break;
        }
        expect(a.status).toBe(200);
      }
      expect(blockedAt).not.toBeNull();
      expect(blockedAt as number).toBeLessThanOrEqual(400);
      // blocked for good, even for a natural query
      expect((await predict(r.guard.url, r.keys.thief as string, [digit(0)])).status).toBe(403);

      // a natural user, 300 digits, is never flagged
      for (let s = 0; s < 300; s += 10) {
        const rows = Array.from({ length: 10 }, (_, i) => digit(1000 + s + i));
        expect((await predict(r.guard.url, r.keys.honest as string, rows)).status).toBe(200);
      }
      const alerts = r.alerts() as { client: string; w: number; delta: number }[];
      expect(alerts.map((a) => a.client)).toEqual([r.ids.thief]);
      expect(alerts[0]?.w).toBeLessThan(alerts[0]?.delta as number);

      const res = await fetch(`${r.guard.url}/provmark/alerts`, {
        headers: { authorization: `Bearer ${r.keys.auditor}` },
      });
      expect(res.status).toBe(200);
      expect(JSON.stringify(await res.json())).toContain(r.ids.thief as string);
      const asClient = await fetch(`${r.guard.url}/provmark/alerts`, {
        headers: { authorization: `Bearer ${r.keys.honest}` },
      });
      expect(asClient.status).toBe(403);
      await new Promise((ok) => setTimeout(ok, 200));
      expect(received).toHaveLength(1);
      expect(received[0]).toMatchObject({ type: "provmark/extraction-alert", client: r.ids.thief });
    } finally {
      await r.close();
    }
  }, 60_000);

  it("throttles instead when told to", async () => {
    const r = await rig({ monitor: { action: "throttle", throttleMs: 400 } });
    try {
      const attack = jbdaRows(600);
      let s = 0;
      for (; s < attack.length && r.alerts().length === 0; s += 10) {
        expect((await predict(r.guard.url, r.keys.thief as string, attack.slice(s, s + 10))).status).toBe(200);
      }
      expect(r.alerts()).toHaveLength(1);
      const t = performance.now();
      expect((await predict(r.guard.url, r.keys.thief as string, [digit(0)])).status).toBe(200);
      expect(performance.now() - t).toBeGreaterThanOrEqual(380);
    } finally {
      await r.close();
    }
  }, 60_000);
});

describe("a key that does not fit the requests", () => {
  it("neither monitors nor alters them, and says so once instead of failing every request", async () => {
    const dir = await tempDir("provmark-defence-misfit-");
    const log = await openDawnLogWriter(join(dir, "dawn.log"), seed, {
      modelIO: io,
      rate: 1,
      keyCommitment: toHex(keyCommitment(seed)),
    });
    const warnings: string[] = [];
    const d = createExtractionDefence({
      io,
      monitor: { delta: 0.93, action: "block", throttleMs: 0 },
      dawn: { rate: 1, seed, log },
      warn: (w) => warnings.push(w),
    });
    const client = { id: "k_misfit", name: "misfit", role: "client" as const };
    const small = { client, protocol: "tfserving" as const, inputs: [new Float32Array(4)], answers: [{ label: 1 }] };
    const badLabel = { ...small, inputs: [new Float32Array(PX)], answers: [{ label: 12 }] };
    for (let i = 0; i < 3; i++) {
      expect(await d.after?.(small)).toEqual({});
      expect(await d.after?.(badLabel)).toEqual({});
    }
    // a fitting row is altered at rate 1
    const fits = await d.after?.({ ...small, inputs: [new Float32Array(PX)], answers: [{ label: 1 }] });
    expect(fits?.answers?.[0]?.label).not.toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/4 values per instance.*784 values, 10 classes/);
    expect(d.stats()[client.id]).toMatchObject({ queries: 1, altered: 1 });
    await log.close();
  });
});

describe("defence config", () => {
  it("refuses dawn without the owner's key, and either part without an input description", async () => {
    const dir = await tempDir("provmark-defence-cfg-");
    const config = parseGuardConfig(
      { schema: "provmark/guard-config/v1", auth: false, dawn: { log: "dawn.log" }, monitor: {} },
      dir,
      "guard.json",
    );
    await expect(openDefence(config, { io })).rejects.toMatchObject({ code: "USAGE", subject: "--key" });
    await expect(openDefence(config, { seed })).rejects.toMatchObject({ code: "USAGE", subject: "--key" });
    expect(config.dawn?.rate).toBe(0.005);
    expect(config.monitor?.action).toBe("log");
  });

  it("lists every problem of a bad section", () => {
    expect(() =>
      parseGuardConfig(
        {
          schema: "provmark/guard-config/v1",
          auth: false,
          dawn: { rate: 2 },
          monitor: { action: "shout", webhook: "ftp://x" },
        },
        "/tmp",
        "guard.json",
      ),
    ).toThrow(/monitor\.action[\s\S]*monitor\.webhook[\s\S]*dawn\.rate[\s\S]*dawn\.log/);
  });
});
