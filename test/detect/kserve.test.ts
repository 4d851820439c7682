import { afterEach, describe, expect, it } from "vitest";
import type { KServeAdapter } from "../../src/detect/adapters/kserve.js";
import { recheckJournal } from "../../src/detect/runner/recheck.js";
import { expectedLabel, FakeSuspect, type FakeSuspectOptions, makeQueries } from "./helpers/fake-suspect.js";
import { labelsOf, runAgainst } from "./helpers/run.js";

const shape = [2, 3, 2] as const;
const classes = 3;
const queries = makeQueries(20, shape, 3);
let server: FakeSuspect | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(o: Partial<FakeSuspectOptions> = {}): Promise<FakeSuspect> {
  server = (await FakeSuspect.start({ protocol: "kserve", classes, shape, kserveInput: "pixels", ...o })).register(
    queries,
  );
  return server;
}

const ks = (s: FakeSuspect, extra: { inputName?: string } = {}) => ({
  protocol: "kserve",
  endpoint: s.url,
  modelName: "m",
  headers: { "X-Api-Key": "key-abcdef" },
  classes,
  inputShape: shape,
  ...extra,
});

const failures = (run: { stats: { failuresByKind: Record<string, number> } }) =>
  Object.fromEntries(Object.entries(run.stats.failuresByKind).filter(([, v]) => v > 0));

describe("KServe v2 adapter", () => {
  it("learns the input name from the model metadata and reads argmax per row", async () => {
    const s = await serve();
    const { run, adapter, runDir } = await runAgainst(ks(s), queries, { batchSize: 8 });
    expect((adapter as KServeAdapter).probe).toEqual({ inputName: "pixels", flat: false, source: "metadata" });
    expect(s.gets.map((g) => g.url)).toEqual(["/v2/models/m"]);
    expect(s.gets[0]?.headers["x-api-key"]).toBe("key-abcdef");
    expect(failures(run)).toEqual({});
    expect(run.stats.requests).toBe(3);
    for (const q of queries) expect(labelsOf(run).get(q.id)).toBe(expectedLabel(q.pixels, classes));
    const sent = JSON.parse(s.requests[0]?.body as string);
    expect(sent.inputs[0]).toMatchObject({ name: "pixels", shape: [8, 2, 3, 2], datatype: "FP32" });
    expect(sent.inputs[0].data).toHaveLength(8 * 12);
    expect(sent.inputs[0].data[0]).toBe((queries[0]?.pixels[0] as number) / 255);
    expect(await recheckJournal(runDir, adapter)).toEqual({ checked: 20, mismatches: [] });
  });

  it("sends [n, h*w*c] when the metadata declares a flat input", async () => {
    const s = await serve({ kserveFlat: true });
    const { run, adapter } = await runAgainst(ks(s), queries.slice(0, 3));
    expect((adapter as KServeAdapter).probe).toEqual({ inputName: "pixels", flat: true, source: "metadata" });
    expect(JSON.parse(s.requests[0]?.body as string).inputs[0].shape).toEqual([3, 12]);
    expect(failures(run)).toEqual({});
  });

  it("a wrong input name is the server's 400: http-4xx, not retried", async () => {
    const s = await serve();
    const { run, adapter } = await runAgainst(ks(s, { inputName: "input_1" }), queries.slice(0, 4));
    expect((adapter as KServeAdapter).probe.source).toBe("flag");
    expect(s.gets).toHaveLength(0);
    expect(failures(run)).toEqual({ "http-4xx": 4 });
    expect(run.stats.requests).toBe(1);
    const r = run.results.get("q0")?.result;
    expect(r?.ok === false && r.detail).toContain("unexpected inference input 'input_1'");
  });

  it("falls back to input_1 when there is no metadata", async () => {
    const s = await serve();
    const { adapter } = await runAgainst({ ...ks(s), modelName: "nope" }, queries.slice(0, 1));
    expect((adapter as KServeAdapter).probe).toMatchObject({
      inputName: "input_1",
      source: "default (metadata answered HTTP 404)",
    });
  });

  it("retries 503 then counts the answers", async () => {
    const s = await serve({ behave: (r) => (r.n === 1 ? { status: 503, text: "upstream connect error" } : undefined) });
    const { run, waits } = await runAgainst(ks(s), queries.slice(0, 5));
    expect(failures(run)).toEqual({});
    expect(run.stats).toMatchObject({ requests: 2, retries: 1 });
    expect(waits).toHaveLength(1);
  });

  it("an output with fewer rows is short for the missing ones; a wrong width is malformed", async () => {
    const s = await serve({
      behave: (r) =>
        r.n === 1
          ? {
              json: (p) => ({
                outputs: [
                  {
                    name: "probs",
                    shape: [p.length - 1, classes],
                    datatype: "FP32",
                    data: p.slice(1).flatMap((x) => x.probs),
                  },
                ],
              }),
            }
          : {
              json: (p) => ({
                outputs: [
                  {
                    name: "probs",
                    shape: [p.length, classes + 1],
                    datatype: "FP32",
                    data: p.flatMap((x) => [...x.probs, 0]),
                  },
                ],
              }),
            },
    });
    const a = await runAgainst(ks(s), queries.slice(0, 4));
    expect(failures(a.run)).toEqual({ short: 1 });
    const b = await runAgainst(ks(s), queries.slice(0, 4));
    expect(failures(b.run)).toEqual({ malformed: 4 });
  });

  it("data that does not fill the shape is malformed; NaN rows are nonfinite; labels are read", async () => {
    const s = await serve({
      behave: (r) =>
        r.n === 1
          ? {
              json: (p) => ({
                outputs: [{ name: "probs", shape: [p.length, classes], datatype: "FP32", data: [0.1] }],
              }),
            }
          : r.n === 2
            ? {
                text: (p) =>
                  `{"outputs":[{"name":"probs","shape":[${p.length},3],"datatype":"FP32","data":[NaN,0,0${p
                    .slice(1)
                    .map((x) => `,${x.probs.join(",")}`)
                    .join("")}]}]}`,
              }
            : {
                json: (p) => ({
                  outputs: [{ name: "label", shape: [p.length], datatype: "INT64", data: p.map((x) => x.label) }],
                }),
              },
    });
    expect(failures((await runAgainst(ks(s), queries.slice(0, 3))).run)).toEqual({ malformed: 3 });
    const nan = await runAgainst(ks(s), queries.slice(0, 3));
    expect(failures(nan.run)).toEqual({ nonfinite: 1 });
    const labels = await runAgainst(ks(s), queries.slice(0, 3));
    expect(failures(labels.run)).toEqual({});
    expect(labelsOf(labels.run).get("q2")).toBe(expectedLabel(queries[2]?.pixels as Uint8Array, classes));
  });

  it("an HTML error page behind a proxy is malformed (200) or http-5xx (502)", async () => {
    const s = await serve({
      behave: (r) =>
        r.n === 1
          ? { status: 200, text: "<html>maintenance</html>" }
          : { status: 502, text: "<html>Bad Gateway</html>" },
    });
    const a = await runAgainst(ks(s), queries.slice(0, 2));
    expect(failures(a.run)).toEqual({ malformed: 2 });
    const b = await runAgainst(ks(s), queries.slice(0, 2), { retries: 1 });
    expect(failures(b.run)).toEqual({ "http-5xx": 2 });
  });
});
