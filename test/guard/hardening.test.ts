import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseGuardConfig } from "../../src/guard/guard-config.js";
import { startGuard } from "../../src/guard/guard-server.js";
import { loadTf, type TF } from "../../src/model/backend.js";
import { RequestError } from "../../src/serve/http.js";
import { createInferenceQueue } from "../../src/serve/inference-queue.js";
import { modelSignature, startModelServer } from "../../src/serve/model-server.js";
import { tempDir } from "../helpers/fixtures.js";
import { call, instances, nest, saveTinyModel } from "../serve/helpers.js";
import { type Rig, startRig, testKey } from "./helpers.js";
import { chunkedFlood, openIdle, silentServer, slowClient } from "./raw-client.js";

let tf: TF;
let rig: Rig;
const alice = testKey("alice", "client");
const auth = `authorization: Bearer ${alice.key}\r\n`;
const PATH = "/v1/models/tiny:predict";

beforeAll(async () => {
  tf = (await loadTf("wasm")).tf;
  rig = await startRig(tf, [alice], {
    limits: { headersTimeoutMs: 600, bodyTimeoutMs: 600, maxBodyBytes: 64 * 1024, maxConnections: 8 },
  });
});
afterAll(async () => {
  await rig?.close();
});

describe("guard hardening (raw sockets on 127.0.0.1)", () => {
  it("cuts off a client that sends its headers one byte at a time (slowloris)", async () => {
    const r = await slowClient(rig.guard.port, {
      head: `POST ${PATH} HTTP/1.1\r\nhost: x\r\n`,
      drip: "x-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      everyMs: 100,
      giveUpMs: 5000,
    });
    expect(r.closedAfterMs).toBeLessThan(2500);
    expect(r.data).toMatch(/^HTTP\/1.1 408/);
  });

  it("cuts off a client that trickles its body", async () => {
    const r = await slowClient(rig.guard.port, {
      head: `POST ${PATH} HTTP/1.1\r\nhost: x\r\n${auth}content-type: application/json\r\ncontent-length: 1000\r\n\r\n`,
      drip: "{",
      everyMs: 100,
      giveUpMs: 6000,
    });
    expect(r.closedAfterMs).toBeLessThan(3000);
    expect(r.written).toBeLessThan(1000);
  });

  it("refuses a huge declared body with 413 before reading it", async () => {
    const r = await slowClient(rig.guard.port, {
      head: `POST ${PATH} HTTP/1.1\r\nhost: x\r\n${auth}content-type: application/json\r\ncontent-length: 1000000000000\r\n\r\n`,
      giveUpMs: 3000,
    });
    expect(r.data).toMatch(/^HTTP\/1.1 413/);
    expect(r.data).toMatch(/"error":"request body exceeds 65536 bytes"/);
  });

  it("stops reading a huge chunked body at the limit (413)", async () => {
    const r = await chunkedFlood(rig.guard.port, PATH, auth, 64 * 1024 * 1024);
    expect(r.data).toMatch(/^HTTP\/1.1 413/);
    // the guard answered long before the 64 MiB the client was ready to send
    expect(r.written).toBeLessThan(16 * 1024 * 1024);
  });

  it("answers 503 to connections over the cap and serves again once they close", async () => {
    const idle = await openIdle(rig.guard.port, 8);
    try {
      const over = await slowClient(rig.guard.port, { head: `GET /v2 HTTP/1.1\r\nhost: x\r\n\r\n`, giveUpMs: 3000 });
      expect(over.data).toMatch(/^HTTP\/1.1 503/);
      expect(over.data).toMatch(/retry-after: 1/i);
    } finally {
      for (const s of idle) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 100));
    const ok = await call(`${rig.guard.url}${PATH}`, {
      body: { instances: instances(1, 1).map(nest) },
      headers: { authorization: `Bearer ${alice.key}` },
    });
    expect(ok.status).toBe(200);
  });
});

describe("guard upstream timeout", () => {
  it("answers 504 when the upstream does not answer in time", async () => {
    const silent = await silentServer();
    const dir = await tempDir("provmark-guard-");
    const guard = await startGuard({
      upstream: `http://127.0.0.1:${silent.port}`,
      protocol: "tfserving",
      config: parseGuardConfig(
        { schema: "provmark/guard-config/v1", auth: false, limits: { upstreamTimeoutMs: 300 } },
        dir,
        "guard.json",
      ),
      port: 0,
    });
    try {
      const started = performance.now();
      const r = await call(`${guard.url}${PATH}`, { body: { instances: [[0]] } });
      expect(r.status).toBe(504);
      expect(r.json.error).toMatch(/did not answer within 300 ms/);
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      await guard.close();
      await silent.close();
    }
  });

  it("refuses a non-loopback host without auth", async () => {
    const dir = await tempDir("provmark-guard-");
    await expect(
      startGuard({
        upstream: "http://127.0.0.1:1",
        protocol: "tfserving",
        config: parseGuardConfig({ schema: "provmark/guard-config/v1", auth: false }, dir, "g.json"),
        host: "0.0.0.0",
        port: 0,
      }),
    ).rejects.toMatchObject({ code: "USAGE", subject: "--host" });
  });
});

describe("serve hardening", () => {
  it("refuses requests over the inference queue bound with 503 and Retry-After", async () => {
    const { model } = await saveTinyModel(tf);
    const sig = modelSignature(model, "tiny");
    const queue = createInferenceQueue(tf, model, sig, 1, 2);
    const before = tf.memory().numTensors;
    try {
      // queued in one tick, before the first batch runs: the third does not fit
      const runs = [0, 1, 2].map((i) => queue.run(instances(1, i)[0] as Float32Array, 1));
      const settled = await Promise.allSettled(runs);
      expect(settled.map((s) => s.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
      const e = (settled[2] as PromiseRejectedResult).reason;
      expect(e).toBeInstanceOf(RequestError);
      expect(e).toMatchObject({ status: 503, headers: { "retry-after": "1" } });
      // room again once the queue drained
      await expect(queue.run(instances(1, 9)[0] as Float32Array, 1)).resolves.toHaveLength(3);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });

  it("closes a keep-alive connection after maxRequestsPerSocket requests", async () => {
    const { dir, model } = await saveTinyModel(tf);
    const server = await startModelServer({
      modelDir: dir,
      port: 0,
      backend: "wasm",
      limits: { maxRequestsPerSocket: 2 },
    });
    try {
      const get = "GET /v2/health/live HTTP/1.1\r\nhost: x\r\n\r\n";
      const r = await slowClient(server.port, { head: get.repeat(3), giveUpMs: 3000 });
      const statuses = r.data.match(/HTTP\/1.1 \d+/g) ?? [];
      expect(statuses).toEqual(["HTTP/1.1 200", "HTTP/1.1 200"]);
      expect(r.data.split("HTTP/1.1")[2]).toMatch(/connection: close/i);
      expect(r.closedAfterMs).toBeLessThan(2000);
    } finally {
      await server.close();
      model.dispose();
    }
  });

  it("cuts off slow headers and caps connections", async () => {
    const { dir, model } = await saveTinyModel(tf);
    const server = await startModelServer({
      modelDir: dir,
      port: 0,
      backend: "wasm",
      limits: { headersTimeoutMs: 500, maxConnections: 4 },
    });
    try {
      const slow = await slowClient(server.port, {
        head: "GET /v2 HTTP/1.1\r\n",
        drip: "x-a: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        everyMs: 100,
        giveUpMs: 5000,
      });
      expect(slow.closedAfterMs).toBeLessThan(2500);
      const idle = await openIdle(server.port, 4);
      const over = await slowClient(server.port, { head: "GET /v2 HTTP/1.1\r\nhost: x\r\n\r\n", giveUpMs: 3000 });
      for (const s of idle) s.destroy();
      expect(over.data).toMatch(/^HTTP\/1.1 503/);
    } finally {
      await server.close();
      model.dispose();
    }
  });
});
