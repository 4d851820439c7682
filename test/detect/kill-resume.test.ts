import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../helpers/fixtures.js";
import { CHILD_CLASSES, CHILD_SHAPE, expectedLabel, FakeSuspect, makeQueries } from "./helpers/fake-suspect.js";
import { journalLines } from "./helpers/run.js";

const CHILD = fileURLToPath(new URL("./helpers/runner-child.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const N = 120;
const BATCH = 4;
const CONCURRENCY = 3;

let server: FakeSuspect | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await server?.close();
});

function start(
  url: string,
  runDir: string,
): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; out: string }> } {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, url, runDir, String(N)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (err += d));
  const done = new Promise<{ code: number | null; signal: string | null; out: string }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, out: out || err })),
  );
  return { child, done };
}

describe("a runner killed with SIGKILL mid-run", () => {
  it("resumes in a new process: every query journaled exactly once, none lost, at most the in-flight batches re-sent", async () => {
    const queries = makeQueries(N, CHILD_SHAPE, 5);
    let victim: ChildProcess | undefined;
    let hitsAtKill = -1;
    server = (
      await FakeSuspect.start({
        protocol: "tfserving",
        classes: CHILD_CLASSES,
        shape: CHILD_SHAPE,
        delayMs: 20,
        onRequest: () => {
          if (victim !== undefined && hitsAtKill < 0 && (server?.totalHits() ?? 0) >= N / 2) {
            hitsAtKill = server?.totalHits() ?? 0;
            victim.kill("SIGKILL");
          }
        },
      })
    ).register(queries);
    const runDir = join(await tempDir("provmark-kill-"), "run");

    const first = start(server.url, runDir);
    victim = first.child;
    const killed = await first.done;
    expect(killed.signal).toBe("SIGKILL");
    expect(hitsAtKill).toBeGreaterThanOrEqual(N / 2);
    const before = await journalLines(runDir);
    const journaledBefore = new Set(before.map((l) => l.id));
    expect(journaledBefore.size).toBe(before.length);
    expect(before.length).toBeLessThan(N);
    expect(before.every((l) => l.result.ok)).toBe(true);
    const firstRunHits = new Map(server.hits);

    const second = start(server.url, runDir);
    const finished = await second.done;
    expect(finished.code, finished.out).toBe(0);
    const summary = JSON.parse(finished.out.trim().split("\n").at(-1) as string);
    expect(summary).toEqual({
      resumed: before.length,
      complete: true,
      requests: Math.ceil((N - before.length) / BATCH),
      answered: N,
    });

    const lines = await journalLines(runDir);
    const ids = lines.map((l) => l.id);
    expect(new Set(ids).size).toBe(ids.length); // each id exactly once
    expect(ids.sort()).toEqual(queries.map((q) => q.id).sort());
    for (const l of lines) {
      const q = queries.find((x) => x.id === l.id);
      expect(l.result).toMatchObject({ ok: true, label: expectedLabel(q?.pixels as Uint8Array, CHILD_CLASSES) });
    }
    // Server side: every query seen, none more than twice. Queries journaled before the kill were
    // never sent again; the repeats are the batches that were in flight when the process died.
    let repeated = 0;
    for (const q of queries) {
      const hits = server.hits.get(q.id) ?? 0;
      expect(hits).toBeGreaterThanOrEqual(1);
      expect(hits).toBeLessThanOrEqual(2);
      if (journaledBefore.has(q.id)) expect(hits).toBe(1);
      else expect(hits).toBe((firstRunHits.get(q.id) ?? 0) + 1);
      if (hits === 2) repeated++;
    }
    // the request that triggered the kill was received but never answered: at least its batch repeats
    expect(repeated).toBeGreaterThanOrEqual(BATCH);
    // per worker: one batch in flight plus one answered batch waiting for its group commit
    expect(repeated).toBeLessThanOrEqual(2 * CONCURRENCY * BATCH);
  });
});
