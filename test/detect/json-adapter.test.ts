import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { recheckJournal } from "../../src/detect/runner/recheck.js";
import { tempDir } from "../helpers/fixtures.js";
import { expectedLabel, FakeSuspect, type FakeSuspectOptions, makeQueries } from "./helpers/fake-suspect.js";
import { allFilesText, labelsOf, runAgainst } from "./helpers/run.js";

const shape = [2, 2, 3] as const;
const NAMES = ["T-shirt", "Trouser", "Pullover", "Dress"];
const classes = NAMES.length;
const queries = makeQueries(12, shape, 4);
/** The suspect's own class order: a permutation of ours. */
const SERVED = ["Dress", "T-shirt", "Pullover", "Trouser"];
let server: FakeSuspect | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(json: NonNullable<FakeSuspectOptions["json"]>, o: Partial<FakeSuspectOptions> = {}) {
  server = (await FakeSuspect.start({ protocol: "json", classes, shape, json, ...o })).register(queries);
  return server;
}

async function config(value: unknown): Promise<string> {
  const p = join(await tempDir("provmark-json-"), "api.json");
  await writeFile(p, JSON.stringify(value));
  return p;
}

const jsonOpen = (s: FakeSuspect, configPath: string, extra: Record<string, unknown> = {}) => ({
  protocol: "json",
  endpoint: `${s.url}/api/classify?key=querykey123`,
  configPath,
  headers: {},
  classes,
  inputShape: shape,
  ...extra,
});

const truth = (i: number) => expectedLabel(queries[i]?.pixels as Uint8Array, classes);
const failures = (run: { stats: { failuresByKind: Record<string, number> } }) =>
  Object.fromEntries(Object.entries(run.stats.failuresByKind).filter(([, v]) => v > 0));

describe("generic JSON adapter", () => {
  it("reads scores keyed by class name from a suspect that permutes its classes", async () => {
    const s = await serve({
      instances: (b) => [(b as { image: unknown }).image],
      answer: (p) => ({ data: { result: Object.fromEntries(SERVED.map((n) => [n, p[0]?.probs[NAMES.indexOf(n)]])) } }),
    });
    const cfg = await config({
      request: { image: "$INPUT", options: { topk: false } },
      response: { path: "data.result", kind: "probabilities", classNames: NAMES },
    });
    const { run, adapter, runDir } = await runAgainst(jsonOpen(s, cfg), queries);
    expect(adapter.maxBatch).toBe(1);
    expect(adapter.target).toBe(`${s.url}/api/classify`);
    expect(run.stats.requests).toBe(12);
    expect(failures(run)).toEqual({});
    for (let i = 0; i < 12; i++) expect(labelsOf(run).get(`q${i}`)).toBe(truth(i));
    const r = run.results.get("q0")?.result;
    expect(r?.ok && r.scores?.[truth(0)]).toBe(0.7); // scores come back in our class order
    expect(JSON.parse(s.requests[0]?.body as string).options).toEqual({ topk: false });
    expect(await allFilesText(runDir)).not.toContain("querykey123");
    expect(await recheckJournal(runDir, adapter)).toEqual({ checked: 12, mismatches: [] });
  });

  it("reads class names; an unknown name is unknown-class", async () => {
    const s = await serve({
      instances: (b) => [(b as { x: unknown }).x],
      answer: (p) => ({ prediction: { name: (p[0]?.id === "q3" ? "Sandal" : NAMES[p[0]?.label ?? 0]) as string } }),
    });
    const cfg = await config({
      request: { x: "$INPUT" },
      response: { path: "prediction.name", kind: "className", classNames: NAMES },
    });
    const { run } = await runAgainst(jsonOpen(s, cfg), queries.slice(0, 6));
    expect(failures(run)).toEqual({ "unknown-class": 1 });
    expect(labelsOf(run).get("q5")).toBe(truth(5));
  });

  it("batches with $INPUTS and reads the first entry of each top-k list", async () => {
    const s = await serve({
      instances: (b) => (b as { batch: unknown[] }).batch,
      answer: (p) => ({
        results: p.map((x) => [
          { class: NAMES[x.label], score: 0.7 },
          { class: NAMES[(x.label + 1) % classes], score: 0.1 },
        ]),
      }),
    });
    for (const topkPath of [undefined, "class"]) {
      const cfg = await config({
        batch: 5,
        request: { batch: "$INPUTS" },
        response: { path: "results", kind: "topk", classNames: NAMES, ...(topkPath ? { topkPath } : {}) },
      });
      const { run, adapter } = await runAgainst(jsonOpen(s, cfg), queries);
      expect(adapter.maxBatch).toBe(5);
      expect(run.stats.requests).toBe(3); // 5 + 5 + 2
      expect(failures(run)).toEqual({});
      for (let i = 0; i < 12; i++) expect(labelsOf(run).get(`q${i}`)).toBe(truth(i));
    }
    expect(JSON.parse(s.requests[0]?.body as string).batch).toHaveLength(5);
  });

  it("top-k lists at a path, flat inputs in raw pixels, labels as numbers", async () => {
    const s = await serve(
      {
        instances: (b) => (b as { inputs: unknown[] }).inputs,
        answer: (p) => ({
          out: p.map((x) => [
            [NAMES[x.label], 0.7],
            ["other", 0.1],
          ]),
        }),
        scale: "pixel",
      },
      {},
    );
    const cfg = await config({
      batch: 4,
      request: { inputs: "$INPUTS_FLAT" },
      response: { path: "out", kind: "topk", classNames: NAMES },
      scale: "pixel",
    });
    const { run } = await runAgainst(jsonOpen(s, cfg), queries);
    expect(failures(run)).toEqual({});
    for (let i = 0; i < 12; i++) expect(labelsOf(run).get(`q${i}`)).toBe(truth(i));
    const sent = JSON.parse(s.requests[0]?.body as string);
    expect(sent.inputs[0]).toEqual(Array.from(queries[0]?.pixels as Uint8Array));
  });

  it("reads numeric labels and string digits; takes auth from the config's env:VAR header", async () => {
    const s = await serve({
      instances: (b) => [(b as { img: unknown }).img],
      answer: (p) => ({ label: p[0]?.id === "q1" ? String(p[0]?.label) : p[0]?.label }),
    });
    const cfg = await config({
      request: { img: "$INPUT" },
      response: { path: "label", kind: "label" },
      headers: { "X-Api-Key": "env:TEST_API_KEY", "X-Client": "provmark-test" },
    });
    const { run, runDir } = await runAgainst(
      { ...jsonOpen(s, cfg), env: { TEST_API_KEY: "apikey-9f8e7d" } },
      queries.slice(0, 3),
    );
    expect(failures(run)).toEqual({});
    expect(labelsOf(run).get("q1")).toBe(truth(1));
    expect(s.requests.map((r) => r.headers["x-api-key"])).toEqual(["apikey-9f8e7d", "apikey-9f8e7d", "apikey-9f8e7d"]);
    expect(await allFilesText(runDir)).not.toContain("apikey-9f8e7d");
    await expect(runAgainst({ ...jsonOpen(s, cfg), env: {} }, queries.slice(0, 1))).rejects.toMatchObject({
      code: "USAGE",
      message: expect.stringContaining("TEST_API_KEY is not set"),
    });
  });

  it("a missing path is malformed, with the server's error when it sent one", async () => {
    const s = await serve({
      instances: (b) => [(b as { img: unknown }).img],
      answer: () => ({ error: "quota exceeded" }),
    });
    const cfg = await config({ request: { img: "$INPUT" }, response: { path: "data.label", kind: "label" } });
    const { run } = await runAgainst(jsonOpen(s, cfg), queries.slice(0, 2));
    expect(failures(run)).toEqual({ malformed: 2 });
    const r = run.results.get("q0")?.result;
    expect(r?.ok === false && r.detail).toBe("the suspect answered an error: quota exceeded");
  });

  it("reports every config problem at once, naming the file", async () => {
    const cfg = await config({
      batch: 4,
      request: { img: "$INPUT" },
      response: { path: "a..b", kind: "className" },
      extra: 1,
    });
    const e = await runAgainst(
      { protocol: "json", endpoint: "http://127.0.0.1:9", configPath: cfg, headers: {}, classes, inputShape: shape },
      [],
    ).then(
      () => new Error("no error"),
      (x: unknown) => x as Error,
    );
    expect(e).toMatchObject({ code: "USAGE", subject: cfg });
    expect(e.message).toContain('Unrecognized key: "extra"');
    expect(e.message).toContain("response.path");
    expect(e.message).toContain('kind "className" needs classNames');
    expect(e.message).toContain('needs exactly one "$INPUTS" or "$INPUTS_FLAT" or "$INPUTS_B64" placeholder');
  });

  it("refuses classNames that do not match the class count", async () => {
    const cfg = await config({
      request: { img: "$INPUT" },
      response: { path: "p", kind: "probabilities", classNames: ["a", "b"] },
    });
    await expect(
      runAgainst(
        { protocol: "json", endpoint: "http://127.0.0.1:9", configPath: cfg, headers: {}, classes, inputShape: shape },
        [],
      ),
    ).rejects.toMatchObject({ code: "USAGE", subject: cfg });
  });
});
