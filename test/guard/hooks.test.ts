import { readFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImageInput, ModelIO } from "../../src/core/input/model-io.js";
import { parseGuardConfig } from "../../src/guard/guard-config.js";
import { type GuardServer, startGuard } from "../../src/guard/guard-server.js";
import type { GuardHooks, PredictionExchange } from "../../src/guard/hooks.js";
import type { GuardProtocol } from "../../src/guard/protocol.js";
import { argmax } from "../../src/guard/protocol-answers.js";
import { inProcessUpstream } from "../../src/guard/upstream.js";
import { loadTf, type TF } from "../../src/model/backend.js";
import { fileSaveHandler } from "../../src/model/fs-io-handler.js";
import { type ModelServer, startModelServer } from "../../src/serve/model-server.js";
import { tempDir } from "../helpers/fixtures.js";
import { call } from "../serve/helpers.js";

/** A small RGB image model, so the guard can decode encoded images as the server does. */
const H = 8;
const W = 8;
const C = 3;
const SIZE = H * W * C;
const NAMES = ["cat", "dog", "fox"];

let tf: TF;
let server: ModelServer;
let io: ModelIO & { input: ImageInput };
let tensorsBefore: number;
let seen: PredictionExchange[] = [];
let mode: "swap" | "scores" | "block" | "none" = "swap";

const hooks: GuardHooks = {
  after(x) {
    seen.push(x);
    if (mode === "block") return { block: "extraction suspected", note: "test block" };
    if (mode === "none") return {};
    if (mode === "scores")
      return { answers: x.answers.map(() => ({ label: 2, scores: [0.1, 0.2, 0.7] })), note: "dawn" };
    return { answers: x.answers.map((a) => ({ label: (a.label + 1) % 3 })) };
  },
  alerts: () => [{ client: "k_x", what: "test alert" }],
};

async function png(seed: number): Promise<Buffer> {
  const pixels = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i++) pixels[i] = (i * 37 + seed * 101) % 256;
  return sharp(pixels, { raw: { width: W, height: H, channels: C } })
    .png()
    .toBuffer();
}

const flat = (seed: number) => Array.from({ length: SIZE }, (_, i) => ((i * 13 + seed * 7) % 97) / 97);

beforeAll(async () => {
  tf = (await loadTf("wasm")).tf;
  tensorsBefore = tf.memory().numTensors;
  const model = tf.sequential();
  model.add(tf.layers.flatten({ inputShape: [H, W, C] }));
  model.add(
    tf.layers.dense({ units: 3, activation: "softmax", kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }),
  );
  const dir = join(await tempDir("provmark-guard-hooks-"), "pets");
  await model.save(fileSaveHandler(tf, dir));
  model.dispose();
  server = await startModelServer({
    modelDir: dir,
    port: 0,
    backend: "wasm",
    io: { preprocess: "pixel/255", classNames: NAMES },
  });
  if (!server.imageIO.ok) throw new Error(server.imageIO.why);
  io = server.imageIO.io;
});

afterAll(async () => {
  await server?.close();
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

async function withGuard<T>(protocol: GuardProtocol, fn: (g: GuardServer) => Promise<T>, json?: unknown): Promise<T> {
  const dir = await tempDir("provmark-guard-");
  const raw = { schema: "provmark/guard-config/v1", auth: false, auditLog: "audit.jsonl", ...(json ? { json } : {}) };
  const guard = await startGuard({
    upstream: server.url,
    protocol,
    config: parseGuardConfig(raw, dir, "guard.json"),
    port: 0,
    io,
    hooks,
  });
  seen = [];
  try {
    return await fn(guard);
  } finally {
    await guard.close();
  }
}

const rowsArgmax = (rows: number[][]) => rows.map(argmax);

describe("guard hooks: answers rewritten in each protocol's format", () => {
  it("TF Serving rows: the hook sees the instances and swaps labels; the rest of the body is kept", async () => {
    mode = "swap";
    const body = { instances: [flat(1), flat(2)] };
    const direct = await call(server.predictUrl, { body });
    await withGuard("tfserving", async (g) => {
      const r = await call(`${g.url}/v1/models/pets:predict`, { body });
      expect(r.status).toBe(200);
      expect(rowsArgmax(r.json.predictions)).toEqual(rowsArgmax(direct.json.predictions).map((l) => (l + 1) % 3));
      // swapping keeps each row a distribution
      for (const row of r.json.predictions) expect(row.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 5);
      expect(seen[0]?.inputs?.map((x) => Array.from(x))).toEqual(
        body.instances.map((x) => Array.from(Float32Array.from(x))),
      );
      expect(seen[0]?.answers.map((a) => a.label)).toEqual(rowsArgmax(direct.json.predictions));
      const columnar = await call(`${g.url}/v1/models/pets:predict`, { body: { inputs: body.instances } });
      expect(rowsArgmax(columnar.json.outputs)).toEqual(rowsArgmax(direct.json.predictions).map((l) => (l + 1) % 3));
    });
  });

  it('TF Serving {"b64"} images are decoded to model-space rows for the hook', async () => {
    mode = "none";
    const images = [await png(1), await png(2)];
    await withGuard("tfserving", async (g) => {
      const r = await call(`${g.url}/v1/models/pets:predict`, {
        body: { instances: images.map((b) => ({ b64: b.toString("base64") })) },
      });
      expect(r.status).toBe(200);
      const rows = seen[0]?.inputs;
      expect(rows).toHaveLength(2);
      // pixel/255 of the PNG's own bytes
      const pixels = await sharp(images[0]).raw().toBuffer();
      expect(Array.from(rows?.[0] ?? [])).toEqual(Array.from(pixels, (p) => Math.fround(p / 255)));
    });
  });

  it("KServe v2: outputs[0].data rewritten flat, id and model name kept; BYTES images decoded", async () => {
    mode = "scores";
    const body = {
      id: "q7",
      inputs: [{ name: "x", shape: [2, SIZE], datatype: "FP32", data: [...flat(3), ...flat(4)] }],
    };
    await withGuard("kserve", async (g) => {
      const r = await call(`${g.url}/v2/models/pets/infer`, { body });
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ id: "q7", model_name: "pets", model_version: "1" });
      expect(r.json.outputs[0].shape).toEqual([2, 3]);
      expect(r.json.outputs[0].data).toEqual([0.1, 0.2, 0.7, 0.1, 0.2, 0.7]);
      expect(seen[0]?.inputs).toHaveLength(2);
      const b64 = (await png(5)).toString("base64");
      const bytes = await call(`${g.url}/v2/models/pets/infer`, {
        body: { inputs: [{ name: "x", shape: [1], datatype: "BYTES", data: [b64] }] },
      });
      expect(bytes.status).toBe(200);
      expect(seen[1]?.inputs?.[0]).toHaveLength(SIZE);
    });
  });

  it("raw image bytes: the [{label, score}] list is re-sorted with the new top class", async () => {
    mode = "swap";
    const image = await png(9);
    const post = (url: string) =>
      fetch(url, { method: "POST", headers: { "content-type": "image/png" }, body: image }).then(async (r) => ({
        status: r.status,
        json: (await r.json()) as { label: string; score: number }[],
      }));
    const direct = await post(server.classifyUrl);
    await withGuard("raw", async (g) => {
      const r = await post(`${g.url}/v1/models/pets:classify`);
      expect(r.status).toBe(200);
      const top = NAMES.indexOf(direct.json[0]?.label as string);
      expect(r.json[0]?.label).toBe(NAMES[(top + 1) % 3]);
      expect(r.json.map((e) => e.label).sort()).toEqual([...NAMES].sort());
      expect(seen[0]?.inputs?.[0]).toHaveLength(SIZE);
      expect(seen[0]?.answers[0]?.label).toBe(top);
    });
  });

  it("a generic JSON API: inputs and answers found by its config's request and response paths", async () => {
    mode = "swap";
    const json = {
      batch: 8,
      request: { instances: "$INPUTS_FLAT" },
      response: { path: "predictions", kind: "probabilities" },
    };
    const body = { instances: [flat(6)] };
    const direct = await call(server.predictUrl, { body });
    await withGuard(
      "json",
      async (g) => {
        const r = await call(`${g.url}/v1/models/pets:predict`, { body });
        expect(r.status).toBe(200);
        expect(rowsArgmax(r.json.predictions)).toEqual(rowsArgmax(direct.json.predictions).map((l) => (l + 1) % 3));
        expect(seen[0]?.inputs).toHaveLength(1);
      },
      json,
    );
  });

  it("a block answers 403 and the audit log records blocked and altered decisions", async () => {
    const dir = await tempDir("provmark-guard-");
    const raw = { schema: "provmark/guard-config/v1", auth: false, auditLog: "audit.jsonl" };
    const guard = await startGuard({
      upstream: server.url,
      protocol: "tfserving",
      config: parseGuardConfig(raw, dir, "guard.json"),
      port: 0,
      hooks,
    });
    try {
      mode = "block";
      const blocked = await call(`${guard.url}/v1/models/pets:predict`, { body: { instances: [flat(1)] } });
      expect(blocked.status).toBe(403);
      expect(blocked.json.error).toBe("extraction suspected");
      mode = "swap";
      const altered = await call(`${guard.url}/v1/models/pets:predict`, { body: { instances: [flat(1)] } });
      expect(altered.status).toBe(200);
    } finally {
      await guard.close();
    }
    const entries = (await readFile(join(dir, "audit.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(entries.map((e) => [e.decision, e.altered, e.status])).toEqual([
      ["blocked", false, 403],
      ["altered", true, 200],
    ]);
    expect(entries[0].note).toBe("test block");
  });
});

describe("guard in front of provmark serve, in-process (serve --guard)", () => {
  it("routes TF Serving, KServe and :classify through the hooks with their protocols", async () => {
    const dir = await tempDir("provmark-guard-");
    const protocols: string[] = [];
    const guard = await startGuard({
      upstream: inProcessUpstream(server, 5000),
      protocol: "provmark-serve",
      config: parseGuardConfig({ schema: "provmark/guard-config/v1", auth: false }, dir, "guard.json"),
      port: 0,
      io,
      hooks: {
        after(x) {
          protocols.push(x.protocol);
          return { answers: x.answers.map((a) => ({ label: (a.label + 1) % 3 })) };
        },
      },
    });
    try {
      const body = { instances: [flat(1)] };
      const direct = await call(server.predictUrl, { body });
      const tfs = await call(`${guard.url}/v1/models/pets:predict`, { body });
      expect(rowsArgmax(tfs.json.predictions)).toEqual(rowsArgmax(direct.json.predictions).map((l) => (l + 1) % 3));
      const v2 = await call(`${guard.url}/v2/models/pets/infer`, {
        body: { inputs: [{ name: "x", shape: [1, SIZE], datatype: "FP32", data: flat(1) }] },
      });
      expect(argmax(v2.json.outputs[0].data)).toBe((argmax(direct.json.predictions[0]) + 1) % 3);
      const raw = await fetch(`${guard.url}/v1/models/pets:classify`, {
        method: "POST",
        headers: { "content-type": "image/png" },
        body: await png(3),
      });
      expect(raw.status).toBe(200);
      expect(protocols).toEqual(["tfserving", "kserve", "raw"]);
      const meta = await call(`${guard.url}/v2/models/pets`);
      expect(meta.json.name).toBe("pets");
      const bad = await call(`${guard.url}/v1/models/pets:predict`, { body: { instances: [[1, 2]] } });
      expect(bad.status).toBe(400);
    } finally {
      await guard.close();
    }
  });

  it("a before hook blocks or delays a client before anything is forwarded", async () => {
    const dir = await tempDir("provmark-guard-");
    let decision: { block?: string; delayMs?: number } = { block: "client blocked by the monitor" };
    const before = server.stats().requests;
    const guard = await startGuard({
      upstream: server.url,
      protocol: "tfserving",
      config: parseGuardConfig({ schema: "provmark/guard-config/v1", auth: false }, dir, "guard.json"),
      port: 0,
      hooks: { before: () => decision },
    });
    try {
      const blocked = await call(`${guard.url}/v1/models/pets:predict`, { body: { instances: [flat(1)] } });
      expect(blocked.status).toBe(403);
      expect(blocked.json.error).toBe("client blocked by the monitor");
      expect(server.stats().requests).toBe(before);
      decision = { delayMs: 300 };
      const started = performance.now();
      const slow = await call(`${guard.url}/v1/models/pets:predict`, { body: { instances: [flat(1)] } });
      expect(slow.status).toBe(200);
      expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    } finally {
      await guard.close();
    }
  });
});
