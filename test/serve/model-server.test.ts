import type * as tfTypes from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadTf, type TF } from "../../src/model/backend.js";
import { type ModelServer, startModelServer } from "../../src/serve/model-server.js";
import { CLASSES, call, expected, instances, maxAbsDiff, nest, SHAPE, SIZE, saveTinyModel } from "./helpers.js";

let tf: TF;
let model: tfTypes.LayersModel;
let dir: string;
let server: ModelServer;
let tensorsBefore: number;

beforeAll(async () => {
  tf = (await loadTf("wasm")).tf;
  tensorsBefore = tf.memory().numTensors;
  ({ dir, model } = await saveTinyModel(tf));
  server = await startModelServer({ modelDir: dir, port: 0, backend: "wasm" });
});

afterAll(async () => {
  await server?.close();
  model?.dispose();
  // the servers' models and the test's own are freed: nothing else may remain
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

const tol = 1e-5;

describe("TF Serving REST predict", () => {
  it.each([1, 7])("answers a batch of %i as the model's own predict does (nested instances)", async (n) => {
    const xs = instances(n, n);
    const r = await call(server.predictUrl, { body: { instances: xs.map(nest) } });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(r.json.predictions).toHaveLength(n);
    expect(maxAbsDiff(r.json.predictions, expected(tf, model, xs))).toBeLessThanOrEqual(tol);
  });

  it("reads flat and named instances, versioned URLs and the columnar form the same way", async () => {
    const xs = instances(3, 42);
    const want = expected(tf, model, xs);
    const name = server.signature.inputName;
    const versioned = `${server.url}/v1/models/tiny/versions/1:predict`;
    const bodies: [string, unknown, string][] = [
      [server.predictUrl, { instances: xs.map((x) => Array.from(x)) }, "predictions"],
      [server.predictUrl, { instances: xs.map((x) => ({ [name]: nest(x) })) }, "predictions"],
      [server.predictUrl, { signature_name: "serving_default", instances: xs.map(nest) }, "predictions"],
      [versioned, { instances: xs.map(nest) }, "predictions"],
      [server.predictUrl, { inputs: xs.map(nest) }, "outputs"],
      [server.predictUrl, { inputs: { [name]: xs.map((x) => Array.from(x)) } }, "outputs"],
    ];
    for (const [url, body, key] of bodies) {
      const r = await call(url, { body });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect(Object.keys(r.json)).toEqual([key]);
      expect(maxAbsDiff(r.json[key], want)).toBeLessThanOrEqual(tol);
    }
  });

  it("accepts curl's default content type and none at all", async () => {
    const xs = instances(1, 5);
    for (const headers of [{ "content-type": "application/x-www-form-urlencoded" }, { "content-type": "" }]) {
      const r = await call(server.predictUrl, { body: { instances: xs.map(nest) }, headers });
      expect(r.status).toBe(200);
    }
  });
});

describe("KServe v2 infer", () => {
  it.each([1, 7])("answers a batch of %i as the model's own predict does (flat data)", async (n) => {
    const xs = instances(n, 100 + n);
    const data = xs.flatMap((x) => Array.from(x));
    const body = { id: `req-${n}`, inputs: [{ name: "input_1", shape: [n, ...SHAPE], datatype: "FP32", data }] };
    const r = await call(server.inferUrl, { body });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ model_name: "tiny", model_version: "1", id: `req-${n}` });
    expect(r.json.outputs).toHaveLength(1);
    const out = r.json.outputs[0];
    expect(out).toMatchObject({ name: "output_0", shape: [n, CLASSES], datatype: "FP32" });
    expect(out.data).toHaveLength(n * CLASSES);
    const rows = xs.map((_, i) => out.data.slice(i * CLASSES, (i + 1) * CLASSES));
    expect(maxAbsDiff(rows, expected(tf, model, xs))).toBeLessThanOrEqual(tol);
  });

  it("reads nested data, a flattened [n, h*w*c] shape, and a versioned URL", async () => {
    const xs = instances(2, 77);
    const want = expected(tf, model, xs).flat();
    const flat = xs.flatMap((x) => Array.from(x));
    const cases: [string, unknown][] = [
      [server.inferUrl, { inputs: [{ name: "x", shape: [2, ...SHAPE], datatype: "FP32", data: xs.map(nest) }] }],
      [server.inferUrl, { inputs: [{ name: "x", shape: [2, SIZE], datatype: "FP32", data: flat }] }],
      [
        `${server.url}/v2/models/tiny/versions/1/infer`,
        {
          inputs: [{ name: "x", shape: [2, ...SHAPE], datatype: "FP64", data: flat }],
          outputs: [{ name: "output_0" }],
        },
      ],
    ];
    for (const [url, body] of cases) {
      const r = await call(url, { body });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect(r.json.id).toBeUndefined();
      expect(maxAbsDiff([r.json.outputs[0].data], [want])).toBeLessThanOrEqual(tol);
    }
  });
});

describe("status, metadata and health", () => {
  it("answers TF Serving's model status and metadata", async () => {
    const status = {
      model_version_status: [{ version: "1", state: "AVAILABLE", status: { error_code: "OK", error_message: "" } }],
    };
    for (const path of ["/v1/models/tiny", "/v1/models/tiny/versions/1"]) {
      const r = await call(`${server.url}${path}`);
      expect(r.status).toBe(200);
      expect(r.json).toEqual(status);
    }
    const meta = await call(`${server.url}/v1/models/tiny/metadata`);
    expect(meta.status).toBe(200);
    expect(meta.json.model_spec).toEqual({ name: "tiny", signature_name: "", version: "1" });
    const sig = meta.json.metadata.signature_def.signature_def.serving_default;
    const input = sig.inputs[server.signature.inputName];
    expect(input.dtype).toBe("DT_FLOAT");
    expect(input.tensor_shape.dim.map((d: { size: string }) => d.size)).toEqual(["-1", "6", "5", "2"]);
    expect(sig.outputs.output_0.tensor_shape.dim.map((d: { size: string }) => d.size)).toEqual(["-1", "3"]);
    expect(sig.method_name).toBe("tensorflow/serving/predict");
  });

  it("answers KServe's health, server and model metadata and readiness", async () => {
    expect((await call(`${server.url}/v2/health/live`)).json).toEqual({ live: true });
    expect((await call(`${server.url}/v2/health/ready`)).json).toEqual({ ready: true });
    const v2 = await call(`${server.url}/v2`);
    expect(v2.json).toMatchObject({ name: "provmark", extensions: [] });
    expect(typeof v2.json.version).toBe("string");
    const meta = await call(`${server.url}/v2/models/tiny`);
    expect(meta.json).toEqual({
      name: "tiny",
      versions: ["1"],
      platform: "tfjs",
      inputs: [{ name: server.signature.inputName, datatype: "FP32", shape: [-1, 6, 5, 2] }],
      outputs: [{ name: "output_0", datatype: "FP32", shape: [-1, 3] }],
    });
    expect((await call(`${server.url}/v2/models/tiny/versions/1`)).json).toEqual(meta.json);
    expect((await call(`${server.url}/v2/models/tiny/ready`)).json).toEqual({ name: "tiny", ready: true });
    const head = await fetch(`${server.url}/v2/health/ready`, { method: "HEAD" });
    expect(head.status).toBe(200);
  });
});

describe("serving under load", () => {
  it("leaks no tensor over 50 requests of both APIs, errors included", async () => {
    const during = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) {
      const xs = instances(1 + (i % 5), 1000 + i);
      if (i % 10 === 9) {
        const bad = await call(server.predictUrl, { body: { instances: [[1, 2, 3]] } });
        expect(bad.status).toBe(400);
      } else if (i % 2 === 0) {
        expect((await call(server.predictUrl, { body: { instances: xs.map(nest) } })).status).toBe(200);
      } else {
        const data = xs.flatMap((x) => Array.from(x));
        const body = { inputs: [{ name: "x", shape: [xs.length, ...SHAPE], datatype: "FP32", data }] };
        expect((await call(server.inferUrl, { body })).status).toBe(200);
      }
    }
    expect(tf.memory().numTensors).toBe(during);
  });

  it("answers 32 concurrent requests, each with its own instances", async () => {
    const jobs = Array.from({ length: 32 }, (_, i) => instances(1 + (i % 4), 5000 + i));
    const wants = jobs.map((xs) => expected(tf, model, xs));
    const before = server.stats();
    const replies = await Promise.all(
      jobs.map((xs, i) =>
        i % 2 === 0
          ? call(server.predictUrl, { body: { instances: xs.map(nest) } }).then((r) => r.json.predictions)
          : call(server.inferUrl, {
              body: {
                inputs: [
                  { name: "x", shape: [xs.length, ...SHAPE], datatype: "FP32", data: xs.flatMap((x) => Array.from(x)) },
                ],
              },
            }).then((r) => xs.map((_, k) => r.json.outputs[0].data.slice(k * CLASSES, (k + 1) * CLASSES))),
      ),
    );
    for (const [i, rows] of replies.entries()) {
      expect(maxAbsDiff(rows, wants[i] as number[][]), `request ${i}`).toBeLessThanOrEqual(tol);
    }
    const after = server.stats();
    expect(after.requests - before.requests).toBe(32);
    expect(after.errors - before.errors).toBe(0);
    expect(after.instances - before.instances).toBe(jobs.reduce((a, xs) => a + xs.length, 0));
  });

  it("closes gracefully: in-flight requests finish, then the port is closed and the model freed", async () => {
    const logged: string[] = [];
    const tensors = tf.memory().numTensors;
    const s = await startModelServer({ modelDir: dir, port: 0, backend: "wasm", log: (l) => logged.push(l) });
    const xs = instances(4, 9);
    const inflight = Array.from({ length: 8 }, () => call(s.predictUrl, { body: { instances: xs.map(nest) } }));
    // in flight = received by the server (a connection with no request yet is idle, and is closed)
    while (s.stats().requests < 8) await new Promise((r) => setImmediate(r));
    await s.close();
    const replies = await Promise.all(inflight);
    expect(replies.map((r) => r.status)).toEqual(Array(8).fill(200));
    await expect(fetch(`${s.url}/v2/health/live`)).rejects.toThrow();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(logged).toHaveLength(8);
    expect(logged[0]).toMatch(/ POST \/v1\/models\/tiny:predict 200 n=4 [\d.]+ms$/);
    expect(logged.join("\n")).not.toContain("instances");
  });
});
