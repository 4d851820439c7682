import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BodyLog } from "../../src/detect/runner/body-log.js";
import { scanJournal } from "../../src/detect/runner/journal.js";
import { readJournal } from "../../src/ledger/embedded/journal.js";
import { tempDir } from "../helpers/fixtures.js";
import { runLimited } from "./child.js";

// `ulimit -f` makes the kernel write only what fits under the limit and return a short count with
// no error: the write(2) behaviour a journal must not mistake for success.
const LIMIT_BLOCKS = 64;
const BIG = 1 << 20;

describe("journals detect short writes", () => {
  it("run journal: a batch whose lines are cut short rejects, and the journal keeps only whole lines", async () => {
    const runDir = join(await tempDir(), "run");
    const r = await runLimited(LIMIT_BLOCKS, ["run-journal-lines", runDir, String(BIG)]);
    expect(r).toMatchObject({ ok: false, code: "OUTPUT_WRITE_FAILED" });
    const ids: string[] = [];
    const scan = await scanJournal(runDir, (l) => ids.push(l.id));
    expect(scan?.tornBytes).toBe(0);
    expect(ids).toEqual([expect.stringMatching(/^q0-/)]);
  });

  it("run journal: a body cut short rejects the batch; the body log holds only whole records", async () => {
    const runDir = join(await tempDir(), "run");
    const r = await runLimited(LIMIT_BLOCKS, ["run-journal", runDir, String(BIG)]);
    expect(r).toMatchObject({ ok: false, code: "OUTPUT_WRITE_FAILED" });
    const ids: string[] = [];
    await scanJournal(runDir, (l) => ids.push(l.id));
    expect(ids).toEqual(["small"]);
    const log = await BodyLog.open(runDir, { readOnly: true });
    try {
      expect(log.has("1".repeat(64))).toBe(true);
      expect(log.has("2".repeat(64))).toBe(false);
    } finally {
      await log.close();
    }
    // one record: "<sha> 10\n" + 10 bytes + "\n"
    expect((await stat(join(runDir, "bodies.log"))).size).toBe(64 + 4 + 10 + 1);
  });

  it("chain journal: a block line cut short rejects, and the journal ends with the last whole block", async () => {
    const stateDir = join(await tempDir(), "chain");
    const r = await runLimited(LIMIT_BLOCKS, ["chain-journal", stateDir, String(BIG)]);
    expect(r).toMatchObject({ ok: false, code: "OUTPUT_WRITE_FAILED" });
    const j = await readJournal(stateDir);
    expect(j?.tornBytes).toBe(0);
    expect(j?.blocks.map((b) => b.n)).toEqual([1]);
    expect((await readFile(join(stateDir, "journal.jsonl"), "utf8")).endsWith("\n")).toBe(true);
  });
});
