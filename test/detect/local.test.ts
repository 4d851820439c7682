import { join } from "node:path";
import type { Tensor } from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { openAdapter } from "../../src/detect/adapters/open-adapter.js";
import { recheckJournal } from "../../src/detect/runner/recheck.js";
import { runQueries } from "../../src/detect/runner/run-queries.js";
import { buildModel } from "../../src/model/archs.js";
import { loadTf } from "../../src/model/backend.js";
import { fileSaveHandler } from "../../src/model/fs-io-handler.js";
import { tempDir } from "../helpers/fixtures.js";
import { makeQueries } from "./helpers/fake-suspect.js";
import { journalLines } from "./helpers/run.js";

const shape = [4, 4, 1] as const;
const classes = 3;

describe("local adapter", () => {
  it("answers with the model's argmax, re-checks from the stored bodies, and leaks no tensor", async () => {
    const { tf } = await loadTf("cpu");
    const dir = join(await tempDir("provmark-local-"), "model");
    const model = buildModel(tf, "mlp-small", shape, classes, 7);
    await model.save(fileSaveHandler(tf, dir));
    const queries = makeQueries(50, shape, 6);
    const x = tf.tensor4d(Float32Array.from(queries.flatMap((q) => Array.from(q.pixels, (p) => p / 255))), [
      50,
      ...shape,
    ]);
    const want = tf.tidy(() => Array.from((model.predict(x) as Tensor).argMax(-1).dataSync()));
    x.dispose();
    model.dispose();
    expect(new Set(want).size).toBeGreaterThan(1);

    const before = tf.memory().numTensors;
    const adapter = await openAdapter({
      protocol: "local",
      endpoint: dir,
      headers: {},
      classes,
      inputShape: shape,
      timeoutMs: 10_000,
      backend: "cpu",
    });
    expect(adapter).toMatchObject({ protocol: "local", target: dir, maxBatch: 64 });
    const runDir = join(await tempDir("provmark-local-"), "run");
    const run = await runQueries({ adapter, queries, runDir });
    expect(run.complete).toBe(true);
    expect(run.stats.requests).toBe(4);
    const got = queries.map((q) => {
      const r = run.results.get(q.id)?.result;
      return r?.ok ? r.label : r?.failure;
    });
    expect(got).toEqual(want);
    const line = (await journalLines(runDir))[0];
    expect(line?.exchange.status).toBeNull();
    expect(await recheckJournal(runDir, adapter)).toEqual({ checked: 50, mismatches: [] });
    await adapter.close();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("refuses a model whose input or output does not fit the queries", async () => {
    const { tf } = await loadTf("cpu");
    const dir = join(await tempDir("provmark-local-"), "model");
    const model = buildModel(tf, "mlp-small", shape, classes, 1);
    await model.save(fileSaveHandler(tf, dir));
    model.dispose();
    const before = tf.memory().numTensors;
    const open = (inputShape: readonly [number, number, number], n: number) =>
      openAdapter({
        protocol: "local",
        endpoint: dir,
        headers: {},
        classes: n,
        inputShape,
        timeoutMs: 1000,
        backend: "cpu",
      });
    await expect(open([5, 5, 1], classes)).rejects.toMatchObject({ code: "SUSPECT_MODEL_MISMATCH", subject: dir });
    await expect(open(shape, 10)).rejects.toMatchObject({ code: "SUSPECT_MODEL_MISMATCH" });
    await expect(open(shape, classes).then((a) => a.close())).resolves.toBeUndefined();
    expect(tf.memory().numTensors).toBe(before);
    await expect(
      openAdapter({
        protocol: "local",
        endpoint: join(dir, "nope"),
        headers: {},
        classes,
        inputShape: shape,
        timeoutMs: 1000,
        backend: "cpu",
      }),
    ).rejects.toMatchObject({ code: "PATH_NOT_FOUND" });
  });
});
