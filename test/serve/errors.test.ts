import type * as tfTypes from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadTf } from "../../src/model/backend.js";
import { type ModelServer, startModelServer } from "../../src/serve/model-server.js";
import { call, instances, nest, SHAPE, SIZE, saveTinyModel, streamBody } from "./helpers.js";

let model: tfTypes.LayersModel;
let server: ModelServer;
const LIMIT = 256 * 1024;

beforeAll(async () => {
  const { tf } = await loadTf("wasm");
  const saved = await saveTinyModel(tf);
  model = saved.model;
  server = await startModelServer({ modelDir: saved.dir, port: 0, backend: "wasm", maxBatch: 16, maxBodyBytes: LIMIT });
});

afterAll(async () => {
  await server?.close();
  model?.dispose();
});

const one = nest(instances(1, 1)[0] as Float32Array);
const flat = Array.from(instances(1, 2)[0] as Float32Array);
const kInput = (over: Record<string, unknown>) => ({
  inputs: [{ name: "x", shape: [1, ...SHAPE], datatype: "FP32", data: flat, ...over }],
});

interface Case {
  what: string;
  path: string;
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  /** A fragment the error message must contain. */
  says: string;
}

const P = "/v1/models/tiny:predict";
const I = "/v2/models/tiny/infer";

const cases: Case[] = [
  { what: "bad JSON", path: P, body: '{"instances": [', status: 400, says: "JSON Parse error" },
  { what: "an empty body", path: P, body: "", status: 400, says: "empty request body" },
  { what: "a JSON array body", path: P, body: [one], status: 400, says: "JSON object" },
  { what: "no instances or inputs", path: P, body: { x: 1 }, status: 400, says: 'missing "instances"' },
  {
    what: "both instances and inputs",
    path: P,
    body: { instances: [one], inputs: [one] },
    status: 400,
    says: "not both",
  },
  { what: "instances not an array", path: P, body: { instances: 3 }, status: 400, says: "must be a JSON array" },
  { what: "empty instances", path: P, body: { instances: [] }, status: 400, says: "empty" },
  {
    what: "too many instances",
    path: P,
    body: { instances: Array(17).fill(flat) },
    status: 400,
    says: "too many instances in instances: 17 > 16",
  },
  {
    what: "a wrong nested shape",
    path: P,
    body: { instances: [[one[0]]] },
    status: 400,
    says: "instances[0] must be an array of 6",
  },
  {
    what: "a wrong inner dimension",
    path: P,
    body: { instances: [[...one.slice(0, 5), [[1, 2, 3]]]] },
    status: 400,
    says: "instances[0][5]",
  },
  { what: "a short flat instance", path: P, body: { instances: [flat.slice(1)] }, status: 400, says: "instances[0]" },
  {
    what: "a string value",
    path: P,
    body: { instances: [["a", ...flat.slice(1)]] },
    status: 400,
    says: "instances[0][0] is string",
  },
  { what: "a null value", path: P, body: { instances: [[null, ...flat.slice(1)]] }, status: 400, says: "not a number" },
  {
    what: "a value overflowing float32",
    path: P,
    body: `{"instances":[[1e39${",0".repeat(SIZE - 1)}]]}`,
    status: 400,
    says: "not a finite float32",
  },
  {
    what: "a value overflowing float64",
    path: P,
    body: `{"instances":[[-1e999${",0".repeat(SIZE - 1)}]]}`,
    status: 400,
    says: "not a finite float32",
  },
  { what: "two named inputs", path: P, body: { instances: [{ a: one, b: one }] }, status: 400, says: "names 2 inputs" },
  // the tiny model's two channels are no image: serve takes its tensors only
  {
    what: "a b64 input",
    path: P,
    body: { instances: [{ b64: "AAAA" }] },
    status: 400,
    says: "cannot decode images",
  },
  {
    what: "an unknown signature",
    path: P,
    body: { signature_name: "classify", instances: [one] },
    status: 400,
    says: "signature_name",
  },
  {
    what: "an unknown model",
    path: "/v1/models/other:predict",
    body: { instances: [one] },
    status: 404,
    says: "Servable not found",
  },
  {
    what: "an unknown version",
    path: "/v1/models/tiny/versions/2:predict",
    body: { instances: [one] },
    status: 404,
    says: "Specific(tiny, 2)",
  },
  { what: "an unknown model's status", path: "/v1/models/other", status: 404, says: "Servable not found" },
  {
    what: "an unknown verb",
    path: "/v1/models/tiny:regress",
    body: { instances: [one] },
    status: 404,
    says: "no such route",
  },
  { what: "an unknown route", path: "/v1/nothing", status: 404, says: "no such route" },
  { what: "the root", path: "/", status: 404, says: "no such route" },
  { what: "GET on predict", path: P, method: "GET", status: 405, says: "use POST" },
  { what: "POST on status", path: "/v1/models/tiny", body: {}, status: 405, says: "use GET or HEAD" },
  {
    what: "an HTML body",
    path: P,
    body: "<p>",
    headers: { "content-type": "text/html" },
    status: 415,
    says: "content-type",
  },
  {
    what: "a PNG body",
    path: I,
    body: "x",
    headers: { "content-type": "image/png" },
    status: 415,
    says: "content-type",
  },
  { what: "KServe bad JSON", path: I, body: "{", status: 400, says: "JSON Parse error" },
  { what: "KServe no inputs", path: I, body: {}, status: 400, says: '"inputs" must be an array' },
  {
    what: "KServe two inputs",
    path: I,
    body: { inputs: [kInput({}).inputs[0], kInput({}).inputs[0]] },
    status: 400,
    says: "has 2 tensors",
  },
  {
    what: "KServe a BYTES input shaped as a tensor",
    path: I,
    body: kInput({ datatype: "BYTES" }),
    status: 400,
    says: "must be [n] for BYTES",
  },
  {
    what: "KServe a wrong shape",
    path: I,
    body: kInput({ shape: [1, 5, 6, 2] }),
    status: 400,
    says: "does not fit the model",
  },
  {
    what: "KServe a batch of 0",
    path: I,
    body: kInput({ shape: [0, ...SHAPE], data: [] }),
    status: 400,
    says: "empty",
  },
  {
    what: "KServe too many",
    path: I,
    body: kInput({ shape: [17, SIZE], data: Array(17).fill(flat).flat() }),
    status: 400,
    says: "17 > 16",
  },
  {
    what: "KServe short data",
    path: I,
    body: kInput({ data: flat.slice(1) }),
    status: 400,
    says: "must hold 60 numbers",
  },
  {
    what: "KServe a non-finite value",
    path: I,
    body: `{"inputs":[{"name":"x","shape":[1,${SIZE}],"datatype":"FP32","data":[1e40${",0".repeat(SIZE - 1)}]}]}`,
    status: 400,
    says: "inputs[0].data[0] = 1e+40 is not a finite float32",
  },
  {
    what: "KServe an unknown output",
    path: I,
    body: { ...kInput({}), outputs: [{ name: "probs" }] },
    status: 400,
    says: "unknown output",
  },
  { what: "KServe a numeric id", path: I, body: { ...kInput({}), id: 7 }, status: 400, says: '"id" must be a string' },
  {
    what: "KServe an unknown model",
    path: "/v2/models/other/infer",
    body: kInput({}),
    status: 404,
    says: "not served here",
  },
  {
    what: "KServe an unknown version",
    path: "/v2/models/tiny/versions/3/infer",
    body: kInput({}),
    status: 404,
    says: "no version",
  },
  { what: "KServe an unknown model's metadata", path: "/v2/models/other", status: 404, says: "not served here" },
  { what: "KServe an unknown route", path: "/v2/models/tiny/explain", status: 404, says: "no such route" },
  { what: "KServe GET on infer", path: I, method: "GET", status: 405, says: "use POST" },
  { what: "KServe DELETE on health", path: "/v2/health/live", method: "DELETE", status: 405, says: "not allowed" },
];

describe("errors are TF-Serving-style {error} bodies with the right status", () => {
  it.each(cases)("$what → $status", async (c) => {
    const r = await call(`${server.url}${c.path}`, {
      ...(c.method === undefined ? {} : { method: c.method }),
      ...(c.body === undefined ? {} : { body: c.body }),
      ...(c.headers === undefined ? {} : { headers: c.headers }),
    });
    expect(r.status).toBe(c.status);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(Object.keys(r.json)).toEqual(["error"]);
    expect(r.json.error).toContain(c.says);
    if (c.status === 405) expect(r.headers.get("allow")).toMatch(/^(POST|GET, HEAD)$/);
  });

  it("counts errors in stats and still serves afterwards", async () => {
    const s = server.stats();
    expect(s.errors).toBeGreaterThanOrEqual(cases.length);
    expect((await call(`${server.url}${P}`, { body: { instances: [one] } })).status).toBe(200);
  });
});

describe("413: bodies over the limit are refused without being read in full", () => {
  const total = 64 * 1024 * 1024;

  it("refuses a declared content-length over the limit before reading it", async () => {
    const r = await streamBody(`${server.url}${P}`, total, { "content-length": String(total) });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toEqual({ error: `request body exceeds ${LIMIT} bytes` });
    expect(r.written).toBeLessThan(total / 4);
  });

  it.each([P, I])("stops reading a chunked body at the limit (%s)", async (path) => {
    const r = await streamBody(`${server.url}${path}`, total);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error).toContain("exceeds");
    // the client got its answer long before it could send everything
    expect(r.written).toBeLessThan(total / 4);
    expect((await call(`${server.url}${P}`, { body: { instances: [one] } })).status).toBe(200);
  });

  it("accepts a body just under the limit", async () => {
    const body = `{"instances":[${JSON.stringify(flat)}]}`;
    const padded = body + " ".repeat(LIMIT - body.length);
    expect((await call(`${server.url}${P}`, { body: padded })).status).toBe(200);
    expect((await call(`${server.url}${P}`, { body: `${padded} ` })).status).toBe(413);
  });
});
