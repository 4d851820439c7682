import { afterEach, describe, expect, it } from "vitest";
import { parseHeaders } from "../../src/detect/adapters/headers.js";
import { recheckJournal } from "../../src/detect/runner/recheck.js";
import { expectedLabel, FakeSuspect, type FakeSuspectOptions, makeQueries } from "./helpers/fake-suspect.js";
import { allFilesText, journalLines, labelsOf, runAgainst } from "./helpers/run.js";

const shape = [4, 4, 1] as const;
const classes = 5;
const queries = makeQueries(40, shape);
let server: FakeSuspect | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(o: Partial<FakeSuspectOptions> = {}): Promise<FakeSuspect> {
  server = (await FakeSuspect.start({ protocol: "tfserving", classes, shape, ...o })).register(queries);
  return server;
}

const tf = (s: FakeSuspect, extra: { headers?: Record<string, string>; now?: () => number } = {}) => ({
  protocol: "tfserving",
  endpoint: s.url,
  modelName: "m",
  headers: extra.headers ?? {},
  classes,
  inputShape: shape,
  ...(extra.now ? { now: extra.now } : {}),
});

const failures = (run: { stats: { failuresByKind: Record<string, number> } }) =>
  Object.fromEntries(Object.entries(run.stats.failuresByKind).filter(([, v]) => v > 0));

describe("TF Serving adapter + runner", () => {
  it("answers every query correctly, journals each once, and the evidence re-checks", async () => {
    const s = await serve();
    const { run, runDir, adapter } = await runAgainst(tf(s), queries);
    expect(run.complete).toBe(true);
    expect(run.resumed).toBe(0);
    expect(run.stats.requests).toBe(3); // 40 queries in batches of 16
    expect(run.stats.retries).toBe(0);
    expect(failures(run)).toEqual({});
    for (const q of queries)
      expect(run.results.get(q.id)?.result).toMatchObject({ ok: true, label: expectedLabel(q.pixels, classes) });
    expect([...s.hits.values()]).toEqual(Array(40).fill(1));
    const lines = await journalLines(runDir);
    expect(lines.map((l) => l.id).sort()).toEqual(queries.map((q) => q.id).sort());
    expect(lines[0]?.exchange.status).toBe(200);
    expect(adapter.target).toBe(`${s.url}/v1/models/m:predict`);
    expect(await recheckJournal(runDir, adapter)).toEqual({ checked: 40, mismatches: [] });
  });

  it("an HTML page is malformed for every item, and is not retried", async () => {
    const s = await serve({ behave: () => ({ status: 200, text: "<!DOCTYPE html><html><body>Login</body></html>" }) });
    const { run, waits } = await runAgainst(tf(s), queries.slice(0, 10));
    expect(failures(run)).toEqual({ malformed: 10 });
    expect(run.stats.requests).toBe(1);
    expect(waits).toEqual([]);
    const r = run.results.get("q0")?.result;
    expect(r?.ok === false && r.detail).toContain("HTML");
  });

  it("retries 500s with exponential backoff and jitter, then counts the answers", async () => {
    const s = await serve({ behave: (r) => (r.n <= 2 ? { status: 500, text: '{"error":"overloaded"}' } : undefined) });
    const { run, waits } = await runAgainst(tf(s), queries.slice(0, 10));
    expect(failures(run)).toEqual({});
    expect(run.stats).toMatchObject({ requests: 3, retries: 2 });
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeGreaterThanOrEqual(250);
    expect(waits[0]).toBeLessThanOrEqual(500);
    expect(waits[1]).toBeGreaterThanOrEqual(500);
    expect(waits[1]).toBeLessThanOrEqual(1000);
    expect([...labelsOf(run).values()].every((v) => typeof v === "number")).toBe(true);
    expect(s.hits.get("q0")).toBe(3);
  });

  it("honours Retry-After (seconds, HTTP date) on 429, capped at 60 s", async () => {
    const fixed = Date.parse("2026-03-01T12:00:00Z");
    const plan = ["2", new Date(fixed + 7000).toUTCString(), "3600"];
    const s = await serve({
      behave: (r) =>
        r.n % 2 === 1 ? { status: 429, headers: { "retry-after": plan[(r.n - 1) / 2] as string } } : undefined,
    });
    const { run, waits } = await runAgainst(tf(s, { now: () => fixed }), queries.slice(0, 3), {
      batchSize: 1,
      concurrency: 1,
    });
    expect(waits).toEqual([2000, 7000, 60_000]);
    expect(run.stats).toMatchObject({ requests: 6, retries: 3 });
    expect(failures(run)).toEqual({});
  });

  it("429 until retries run out: every item is a rate-limited failure, never a wrong answer", async () => {
    const s = await serve({ behave: () => ({ status: 429, headers: { "retry-after": "1" } }) });
    const { run, waits } = await runAgainst(tf(s), queries.slice(0, 5), { retries: 2 });
    expect(failures(run)).toEqual({ "rate-limited": 5 });
    expect(waits).toEqual([1000, 1000]);
    expect(run.stats.requests).toBe(3);
  });

  it("a hanging endpoint times out, is retried, then counted as timeouts; the run finishes", async () => {
    const s = await serve({ behave: () => "hang" });
    const t0 = Date.now();
    const { run } = await runAgainst(tf(s), queries.slice(0, 6), { timeoutMs: 300, retries: 1 });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(run.complete).toBe(true);
    expect(failures(run)).toEqual({ timeout: 6 });
    expect(run.stats.requests).toBe(2);
    expect(run.results.get("q0")?.exchange).toMatchObject({ status: null, responseSha256: null });
  });

  it("rows of the wrong width are malformed; a bad row fails only its item", async () => {
    const s = await serve({
      behave: (r) =>
        r.n === 1
          ? { json: (p) => ({ predictions: p.map((x) => [...x.probs, 0]) }) }
          : { json: (p) => ({ predictions: p.map((x, i) => (i === 1 ? x.probs.slice(1) : x.probs)) }) },
    });
    const a = await runAgainst(tf(s), queries.slice(0, 4));
    expect(failures(a.run)).toEqual({ malformed: 4 });
    const r = a.run.results.get("q0")?.result;
    expect(r?.ok === false && r.detail).toBe("expected 5 scores, got 6");
    const b = await runAgainst(tf(s), queries.slice(0, 4));
    expect(failures(b.run)).toEqual({ malformed: 1 });
    expect(b.run.results.get("q1")?.result.ok).toBe(false);
  });

  it("fewer predictions than instances: the missing ones are short, the rest count", async () => {
    const s = await serve({
      behave: () => ({ json: (p) => ({ predictions: p.slice(0, p.length - 2).map((x) => x.probs) }) }),
    });
    const { run } = await runAgainst(tf(s), queries.slice(0, 8));
    expect(failures(run)).toEqual({ short: 2 });
    expect(run.results.get("q5")?.result.ok).toBe(true);
    expect(run.results.get("q6")?.result).toMatchObject({ ok: false, failure: "short" });
    expect(run.stats.requests).toBe(1);
  });

  it("more predictions than instances: alignment is lost, every item is malformed", async () => {
    const s = await serve({ behave: () => ({ json: (p) => ({ predictions: [...p, p[0]].map((x) => x?.probs) }) }) });
    const { run } = await runAgainst(tf(s), queries.slice(0, 3));
    expect(failures(run)).toEqual({ malformed: 3 });
  });

  it("a connection closed mid-body is a network failure, retried, then counted", async () => {
    const s = await serve({ behave: () => "cut" });
    const { run, waits } = await runAgainst(tf(s), queries.slice(0, 4), { retries: 2 });
    expect(failures(run)).toEqual({ network: 4 });
    expect(run.stats.requests).toBe(3);
    expect(waits).toHaveLength(2);
    const r = run.results.get("q0")?.result;
    expect(r?.ok === false && r.detail).toMatch(/connection closed while reading the 200 response/);
  });

  it("NaN, Infinity and null scores fail only their item (nonfinite)", async () => {
    const s = await serve({
      behave: () => ({
        text: (p) => {
          const rows = p.map((x) => JSON.stringify(x.probs));
          rows[1] = "[0.1, NaN, 0.2, 0.3, 0.4]";
          rows[2] = "[0.1, -Infinity, 0.2, 0.3, 0.4]";
          rows[3] = "[0.1, null, 0.2, 0.3, 0.4]";
          rows[4] = '[0.1, "NaN", 0.2, 0.3, 0.4]';
          return `{"predictions": [${rows.join(",")}]}`;
        },
      }),
    });
    const { run } = await runAgainst(tf(s), queries.slice(0, 6));
    expect(failures(run)).toEqual({ nonfinite: 3, malformed: 1 });
    expect(labelsOf(run).get("q4")).toBe("malformed");
    expect(labelsOf(run).get("q5")).toBe(expectedLabel(queries[5]?.pixels as Uint8Array, classes));
  });

  it("reads bare labels; an out-of-range label is unknown-class", async () => {
    const s = await serve({
      behave: () => ({ json: (p) => ({ predictions: p.map((x, i) => (i === 0 ? 9 : x.label)) }) }),
    });
    const { run } = await runAgainst(tf(s), queries.slice(0, 5));
    expect(failures(run)).toEqual({ "unknown-class": 1 });
    expect(labelsOf(run).get("q3")).toBe(expectedLabel(queries[3]?.pixels as Uint8Array, classes));
  });

  it('{"error": …} answers and 4xx are failures with the server\'s message; 4xx is not retried', async () => {
    const s = await serve({
      behave: (r) =>
        r.n === 1
          ? { json: () => ({ error: "Input to reshape is a tensor with 16 values" }) }
          : { status: 400, text: '{"error":"Malformed request: instances"}' },
    });
    const a = await runAgainst(tf(s), queries.slice(0, 2));
    const r = a.run.results.get("q0")?.result;
    expect(r?.ok === false && r.detail).toContain("Input to reshape");
    const b = await runAgainst(tf(s), queries.slice(0, 2));
    expect(failures(b.run)).toEqual({ "http-4xx": 2 });
    expect(b.run.stats.requests).toBe(1);
    const r2 = b.run.results.get("q0")?.result;
    expect(r2?.ok === false && r2.detail).toBe('HTTP 400: "Malformed request: instances"');
  });

  it("an unknown model (404) fails every item as http-4xx", async () => {
    const s = await serve();
    const { run } = await runAgainst({ ...tf(s), modelName: "other" }, queries.slice(0, 3));
    expect(failures(run)).toEqual({ "http-4xx": 3 });
  });

  it("sends the auth header from the environment; it is in no journal line, body, detail or result", async () => {
    const secret = "Bearer s3cr3t-token-4f9a1c";
    const headers = parseHeaders(["Authorization: env:SUSPECT_AUTH", "X-Team: research"], { SUSPECT_AUTH: secret });
    const s = await serve({
      behave: (r) =>
        r.n === 1 ? { status: 403, text: JSON.stringify({ error: `token ${secret} is not allowed here` }) } : undefined,
    });
    const first = await runAgainst(tf(s, { headers }), queries.slice(0, 4));
    expect(failures(first.run)).toEqual({ "http-4xx": 4 });
    const r = first.run.results.get("q0")?.result;
    expect(r?.ok === false && r.detail).toBe('HTTP 403: "token [redacted] is not allowed here"');
    const second = await runAgainst(tf(s, { headers }), queries.slice(0, 4), { runDir: first.runDir });
    expect(second.run.resumed).toBe(0);
    expect(failures(second.run)).toEqual({});
    expect(s.requests.map((q) => q.headers.authorization)).toEqual([secret, secret]);
    expect(s.requests[0]?.headers["x-team"]).toBe("research");
    const everything = await allFilesText(first.runDir);
    expect(everything).toContain("[redacted]");
    expect(everything).not.toContain("s3cr3t");
    expect(JSON.stringify([...first.run.results, ...second.run.results])).not.toContain("s3cr3t");
    expect(await recheckJournal(first.runDir, second.adapter)).toMatchObject({ mismatches: [] });
  });

  it("PROVMARK_SUSPECT_TOKEN becomes a bearer token", async () => {
    const s = await serve();
    const headers = parseHeaders([], { PROVMARK_SUSPECT_TOKEN: "tok-123456" });
    await runAgainst(tf(s, { headers }), queries.slice(0, 1));
    expect(s.requests[0]?.headers.authorization).toBe("Bearer tok-123456");
  });
});
