import { type ChildProcess, spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isProvmarkError } from "../../src/errors.js";
import { loadTf } from "../../src/model/backend.js";
import { startModelServer } from "../../src/serve/model-server.js";
import { tempDir } from "../helpers/fixtures.js";
import { call, instances, nest, saveTinyModel } from "./helpers.js";

const SCRIPT = fileURLToPath(new URL("./run-serve.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

let dir: string;
let busy: Server;
let busyPort: number;

beforeAll(async () => {
  const { tf } = await loadTf("wasm");
  const saved = await saveTinyModel(tf);
  saved.model.dispose();
  dir = saved.dir;
  busy = createServer();
  await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
  busyPort = (busy.address() as { port: number }).port;
});

afterAll(() => {
  busy?.close();
});

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number>;
}

/** `provmark serve` with these flags, in a child process (so signals are real). */
function startServe(flags: Record<string, unknown>): Running {
  const child = spawn(process.execPath, ["--import", "tsx", SCRIPT, JSON.stringify(flags)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => (stdout += d));
  child.stderr?.on("data", (d) => (stderr += d));
  const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const base = { host: "127.0.0.1", port: 0 };

describe("provmark serve (the command)", () => {
  it("prints one JSON line once listening, logs one line per request with --verbose, stops on SIGTERM", async () => {
    const run = startServe({ ...base, model: dir, name: "suspect", json: true, verbose: true });
    await until(() => run.stdout().includes("\n"), `the JSON line (stderr: ${run.stderr()})`);
    const info = JSON.parse(run.stdout());
    expect(info).toMatchObject({
      model: "suspect",
      modelDir: dir,
      inputShape: [6, 5, 2],
      classes: 3,
      backend: "wasm",
    });
    expect(info.predictUrl).toBe(`${info.url}/v1/models/suspect:predict`);
    expect(info.inferUrl).toBe(`${info.url}/v2/models/suspect/infer`);
    const x = instances(1, 3)[0] as Float32Array;
    const r = await call(info.predictUrl, { body: { instances: [nest(x)] } });
    expect(r.status).toBe(200);
    expect((await call(`${info.url}/v2/models/other`)).status).toBe(404);
    await until(() => run.stderr().split("\n").length > 2, "two log lines");
    const lines = run.stderr().trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/ POST \/v1\/models\/suspect:predict 200 n=1 [\d.]+ms$/);
    expect(lines[1]).toMatch(/ GET \/v2\/models\/other 404 n=0 /);
    expect(run.stderr()).not.toContain(String(x[0]));
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
    expect(run.stdout().trim().split("\n")).toHaveLength(1);
  });

  it("prints both APIs' URLs, logs nothing without --verbose, stops on SIGINT", async () => {
    const run = startServe({ ...base, model: dir });
    await until(() => run.stdout().includes("Ctrl-C"), `the banner (stderr: ${run.stderr()})`);
    const url = /TF Serving REST: {2}POST (\S+)/.exec(run.stdout())?.[1] as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\/models\/tiny:predict$/);
    expect(run.stdout()).toMatch(/KServe v2: {8}POST http:\/\/127\.0\.0\.1:\d+\/v2\/models\/tiny\/infer/);
    expect((await call(url, { body: { instances: [nest(instances(1, 4)[0] as Float32Array)] } })).status).toBe(200);
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(0);
    expect(run.stderr()).toBe("");
  });

  it("exits 2 with the repo's coded errors for a bad model directory or a busy port", async () => {
    const empty = join(await tempDir(), "empty");
    await mkdir(empty);
    const runs = [
      startServe({ ...base, model: join(dir, "..", "nope") }),
      startServe({ ...base, model: empty }),
      startServe({ ...base, model: dir, port: busyPort }),
      startServe({ ...base, model: dir, port: busyPort, json: true }),
    ];
    const codes = await Promise.all(runs.map((r) => r.exited));
    expect(codes).toEqual([2, 2, 2, 2]);
    expect(runs[0]?.stderr()).toContain("error[PATH_NOT_FOUND]");
    expect(runs[1]?.stderr()).toContain("error[MODEL_NOT_FOUND]");
    expect(runs[2]?.stderr()).toContain(`error[USAGE]: port ${busyPort} on 127.0.0.1 is in use`);
    expect(runs[2]?.stderr()).toContain("--port 0");
    const err = JSON.parse(runs[3]?.stdout() ?? "").error;
    expect(err).toMatchObject({ code: "USAGE", subject: "--port" });
    expect(err.hints.join(" ")).toContain("--port 0");
  });
});

describe("startModelServer options", () => {
  it("refuses a model name that cannot be in a URL, and a busy port, with coded errors", async () => {
    const bad = await startModelServer({ modelDir: dir, port: 0, modelName: "a/b" }).catch((e) => e);
    expect(isProvmarkError(bad, "USAGE") && bad.subject).toBe("--name");
    const busyErr = await startModelServer({ modelDir: dir, port: busyPort, backend: "wasm" }).catch((e) => e);
    expect(isProvmarkError(busyErr, "USAGE") && busyErr.exitCode).toBe(2);
    expect(busyErr.message).toBe(`port ${busyPort} on 127.0.0.1 is in use`);
  });

  it("refuses a model it cannot serve (two inputs) with MODEL_FORMAT_UNSUPPORTED", async () => {
    const { tf } = await loadTf("wasm");
    const a = tf.input({ shape: [4], name: "a" });
    const b = tf.input({ shape: [4], name: "b" });
    const out = tf.layers.dense({ units: 2 }).apply(tf.layers.concatenate().apply([a, b])) as never;
    const model = tf.model({ inputs: [a, b], outputs: out });
    const out2 = join(await tempDir(), "two");
    const { fileSaveHandler } = await import("../../src/model/fs-io-handler.js");
    await model.save(fileSaveHandler(tf, out2));
    model.dispose();
    const before = tf.memory().numTensors;
    const e = await startModelServer({ modelDir: out2, port: 0, backend: "wasm" }).catch((x) => x);
    expect(isProvmarkError(e, "MODEL_FORMAT_UNSUPPORTED")).toBe(true);
    expect(e.message).toContain("it has 2 inputs");
    expect(tf.memory().numTensors).toBe(before);
  });
});
