import { appendFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openAdapter } from "../../src/detect/adapters/open-adapter.js";
import type { SuspectAdapter } from "../../src/detect/adapters/types.js";
import { BodyLog } from "../../src/detect/runner/body-log.js";
import { answersPath } from "../../src/detect/runner/journal.js";
import { type RunProgress, runQueries } from "../../src/detect/runner/run-queries.js";
import { tempDir } from "../helpers/fixtures.js";
import {
  expectedLabel,
  FakeSuspect,
  type FakeSuspectOptions,
  makeQueries,
  recordingSleep,
} from "./helpers/fake-suspect.js";
import { journalLines } from "./helpers/run.js";

const shape = [3, 3, 1] as const;
const classes = 4;
const queries = makeQueries(60, shape, 2);
let server: FakeSuspect | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(o: Partial<FakeSuspectOptions> = {}): Promise<{ s: FakeSuspect; adapter: SuspectAdapter }> {
  server = (await FakeSuspect.start({ protocol: "tfserving", classes, shape, ...o })).register(queries);
  const adapter = await openAdapter({
    protocol: "tfserving",
    endpoint: server.url,
    modelName: "m",
    headers: {},
    classes,
    inputShape: shape,
    timeoutMs: 5000,
  });
  return { s: server, adapter };
}

const runDir = async () => join(await tempDir("provmark-runner-"), "run");

describe("runQueries: journal and resume", () => {
  it("Ctrl-C stops sending, finishes the requests under way, and a rerun answers the rest: 0 lost, 0 repeated", async () => {
    const { s, adapter } = await serve({ delayMs: 15 });
    const dir = await runDir();
    const ctrl = new AbortController();
    const seen: RunProgress[] = [];
    const first = await runQueries({
      adapter,
      queries,
      runDir: dir,
      batchSize: 4,
      concurrency: 2,
      signal: ctrl.signal,
      onProgress: (p) => {
        seen.push(p);
        if (p.answered >= 20) ctrl.abort();
      },
    });
    expect(first.complete).toBe(false);
    const answeredFirst = [...first.results.values()].filter((r) => r.result.ok).length;
    expect(answeredFirst).toBeGreaterThanOrEqual(20);
    expect(answeredFirst).toBeLessThan(60);
    expect(seen[0]).toEqual({ answered: 0, failed: 0, total: 60, inFlight: 0 });
    expect(seen.at(-1)?.inFlight).toBe(0);
    expect((await journalLines(dir)).length).toBe(answeredFirst);
    expect(s.totalHits()).toBe(answeredFirst); // nothing was sent that was not journaled

    const second = await runQueries({ adapter, queries, runDir: dir, batchSize: 4, concurrency: 2 });
    expect(second.complete).toBe(true);
    expect(second.resumed).toBe(answeredFirst);
    expect(second.stats.requests).toBe(Math.ceil((60 - answeredFirst) / 4));
    expect([...s.hits.values()]).toEqual(Array(60).fill(1));
    const lines = await journalLines(dir);
    expect(lines.map((l) => l.id).sort()).toEqual(queries.map((q) => q.id).sort());
    for (const q of queries)
      expect(second.results.get(q.id)?.result).toMatchObject({ ok: true, label: expectedLabel(q.pixels, classes) });
  });

  it("a torn last line is ignored and cut away; its query is sent again", async () => {
    const { s, adapter } = await serve();
    const dir = await runDir();
    const some = queries.slice(0, 10);
    await runQueries({ adapter, queries: some, runDir: dir, batchSize: 2 });
    const text = await readFile(answersPath(dir), "utf8");
    const lines = text.split("\n");
    // drop the last batch (q8, q9) and leave half of q8's line, as a crash mid-append would
    const kept = lines.slice(0, 9).join("\n");
    const torn = (lines[9] as string).slice(0, 40);
    await writeFile(answersPath(dir), `${kept}\n${torn}`);
    const again = await runQueries({ adapter, queries: some, runDir: dir, batchSize: 2 });
    expect(again.resumed).toBe(8);
    expect(again.stats.requests).toBe(1);
    expect(again.complete).toBe(true);
    const after = await readFile(answersPath(dir), "utf8");
    expect(after.endsWith("\n")).toBe(true);
    expect(after).not.toContain(`${torn}{`);
    expect((await journalLines(dir)).map((l) => l.id)).toEqual(some.map((q) => q.id));
    expect(s.hits.get("q8")).toBe(2);
    expect(s.hits.get("q7")).toBe(1);
  });

  it("failed queries are journaled but not answered: a rerun sends them again", async () => {
    const { s, adapter } = await serve({ behave: (r) => (r.n === 1 ? { status: 400, text: "bad" } : undefined) });
    const dir = await runDir();
    const some = queries.slice(0, 12);
    const first = await runQueries({ adapter, queries: some, runDir: dir, batchSize: 4, concurrency: 1 });
    expect(first.complete).toBe(true);
    expect(first.stats.failuresByKind["http-4xx"]).toBe(4);
    const second = await runQueries({ adapter, queries: some, runDir: dir, batchSize: 4, concurrency: 1 });
    expect(second.resumed).toBe(8);
    expect(second.stats.requests).toBe(1);
    expect([...second.results.values()].every((r) => r.result.ok)).toBe(true);
    const ids = (await journalLines(dir)).map((l) => l.id);
    expect(ids.filter((id) => id === "q0")).toHaveLength(2); // the failure, then the answer
    expect(s.hits.get("q0")).toBe(2);
    expect(s.hits.get("q4")).toBe(1);
  });

  it("refuses a run directory made for another suspect", async () => {
    const { adapter } = await serve();
    const dir = await runDir();
    await runQueries({ adapter, queries: queries.slice(0, 2), runDir: dir });
    const other = await openAdapter({
      protocol: "tfserving",
      endpoint: "http://127.0.0.1:9",
      modelName: "m",
      headers: {},
      classes,
      inputShape: shape,
      timeoutMs: 1000,
    });
    await expect(runQueries({ adapter: other, queries: queries.slice(0, 2), runDir: dir })).rejects.toMatchObject({
      code: "DETECT_JOURNAL_INVALID",
      subject: answersPath(dir),
    });
  });

  it("stores every body content-addressed, once, in the body log", async () => {
    const { adapter } = await serve();
    const dir = await runDir();
    const run = await runQueries({ adapter, queries: queries.slice(0, 12), runDir: dir, batchSize: 4 });
    const shas = new Set<string>();
    for (const { exchange } of run.results.values()) {
      shas.add(exchange.requestSha256);
      shas.add(exchange.responseSha256 as string);
    }
    expect(shas.size).toBe(6);
    const log = await readFile(join(dir, "bodies.log"), "latin1");
    expect((log.match(/^[0-9a-f]{64} \d+$/gm) ?? []).map((l) => l.slice(0, 64)).sort()).toEqual([...shas].sort());
    const { createHash } = await import("node:crypto");
    const bodies = await BodyLog.open(dir, { readOnly: true });
    try {
      for (const sha of shas) {
        const b = await bodies.read(sha);
        expect(b).not.toBeNull();
        expect(
          createHash("sha256")
            .update(b as Uint8Array)
            .digest("hex"),
        ).toBe(sha);
      }
    } finally {
      await bodies.close();
    }
  });

  it("keeps at most `concurrency` requests in flight", async () => {
    const { s, adapter } = await serve({ delayMs: 40 });
    const run = await runQueries({
      adapter,
      queries: queries.slice(0, 24),
      runDir: await runDir(),
      batchSize: 2,
      concurrency: 3,
    });
    expect(run.stats.requests).toBe(12);
    expect(s.maxActive).toBe(3);
  });

  it("spaces requests at 1/rps", async () => {
    const { s, adapter } = await serve();
    const times: number[] = [];
    const timed: SuspectAdapter = {
      ...adapter,
      protocol: adapter.protocol,
      target: adapter.target,
      maxBatch: adapter.maxBatch,
      send: (b, sig) => {
        times.push(performance.now());
        return adapter.send(b, sig);
      },
      parse: (b, n) => adapter.parse(b, n),
      close: () => adapter.close(),
    };
    const run = await runQueries({
      adapter: timed,
      queries: queries.slice(0, 8),
      runDir: await runDir(),
      batchSize: 1,
      concurrency: 4,
      rps: 25,
    });
    expect(run.stats.requests).toBe(8);
    expect(s.requests).toHaveLength(8);
    for (let i = 1; i < times.length; i++)
      // each gap may lose a few ms to event-loop jitter between the pacer's slot and the send
      expect((times[i] as number) - (times[i - 1] as number)).toBeGreaterThanOrEqual(30);
    expect((times.at(-1) as number) - (times[0] as number)).toBeGreaterThanOrEqual(7 * 38);
  });

  it("a cancelled wait for Retry-After ends the run at once", async () => {
    const { adapter } = await serve({ behave: () => ({ status: 503, headers: { "retry-after": "30" } }) });
    const ctrl = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ctrl.abort(), 200);
    const run = await runQueries({
      adapter,
      queries: queries.slice(0, 4),
      runDir: await runDir(),
      signal: ctrl.signal,
    });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(run.complete).toBe(false);
    expect(run.results.size).toBe(0);
    expect(run.stats).toMatchObject({ requests: 1, retries: 1 });
  });

  it("rejects duplicate ids and bad options before sending anything", async () => {
    const { s, adapter } = await serve();
    const dup = [queries[0], queries[0]].filter((q) => q !== undefined);
    await expect(runQueries({ adapter, queries: dup, runDir: await runDir() })).rejects.toThrow(/appears twice/);
    await expect(runQueries({ adapter, queries, runDir: await runDir(), concurrency: 0 })).rejects.toThrow(RangeError);
    expect(s.requests).toHaveLength(0);
  });

  it("records the waits it was asked to make with the injected sleep, and nothing else", async () => {
    const { adapter } = await serve();
    const { sleep, waits } = recordingSleep();
    await runQueries({ adapter, queries: queries.slice(0, 4), runDir: await runDir(), sleep });
    expect(waits).toEqual([]);
  });

  it("appends to an existing journal without rewriting it", async () => {
    const { adapter } = await serve();
    const dir = await runDir();
    await runQueries({ adapter, queries: queries.slice(0, 4), runDir: dir });
    const before = await readFile(answersPath(dir), "utf8");
    await appendFile(answersPath(dir), ""); // touch
    await runQueries({ adapter, queries: queries.slice(0, 8), runDir: dir });
    const after = await readFile(answersPath(dir), "utf8");
    expect(after.startsWith(before)).toBe(true);
    expect(after.split("\n").filter(Boolean)).toHaveLength(1 + 8);
  });
});
