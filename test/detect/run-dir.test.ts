import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadOrCreatePlan } from "../../src/detect/run-plan.js";
import { openRunJournal } from "../../src/detect/runner/journal.js";
import { tempDir } from "../helpers/fixtures.js";

const target = "http://127.0.0.1:1";
const wanted = {
  certificateHash: "c".repeat(64),
  suspect: { protocol: "tfserving", target, modelName: null },
  subset: 4,
  decoyRatio: 1,
  decoysFrom: null,
  decoyCount: 8,
  triggerCount: 8,
};

async function userDir(): Promise<string> {
  const dir = join(await tempDir(), "thesis");
  await mkdir(join(dir, "chapters"), { recursive: true });
  await writeFile(join(dir, "thesis.tex"), "\\documentclass{book}");
  await writeFile(join(dir, "chapters", "one.tex"), "Once upon a time");
  return dir;
}

describe("--fresh deletes only provmark run directories", () => {
  it("refuses a directory of the user's files (DETECT_RUN_DIR_FOREIGN) and deletes nothing", async () => {
    const dir = await userDir();
    await expect(loadOrCreatePlan(dir, wanted, true)).rejects.toMatchObject({
      code: "DETECT_RUN_DIR_FOREIGN",
      exitCode: 2,
      message: expect.stringContaining('"chapters"'),
    });
    expect((await readdir(dir)).sort()).toEqual(["chapters", "thesis.tex"]);
    expect(await readFile(join(dir, "chapters", "one.tex"), "utf8")).toBe("Once upon a time");
  });

  it("refuses a run directory the user also keeps a file in", async () => {
    const dir = join(await tempDir(), "run");
    await loadOrCreatePlan(dir, wanted, false);
    await writeFile(join(dir, "notes.md"), "keep me");
    await expect(loadOrCreatePlan(dir, wanted, true)).rejects.toMatchObject({ code: "DETECT_RUN_DIR_FOREIGN" });
    expect((await readdir(dir)).sort()).toEqual(["notes.md", "plan.json", "plans.jsonl"]);
  });

  it("refuses files that only look like provmark's (no plan, no journal header)", async () => {
    const dir = join(await tempDir(), "run");
    await mkdir(dir);
    await writeFile(join(dir, "plan.json"), JSON.stringify({ my: "own plan" }));
    await expect(loadOrCreatePlan(dir, wanted, true)).rejects.toMatchObject({ code: "DETECT_RUN_DIR_FOREIGN" });
    expect(await readFile(join(dir, "plan.json"), "utf8")).toContain("own plan");
  });

  it("refuses a symbolic link to a directory, leaving the link and its target", async () => {
    const target = await userDir();
    const link = join(await tempDir(), "run-link");
    await symlink(target, link);
    await expect(loadOrCreatePlan(link, wanted, true)).rejects.toMatchObject({ code: "DETECT_RUN_DIR_FOREIGN" });
    expect((await readdir(link)).sort()).toEqual(["chapters", "thesis.tex"]);
  });

  it("clears a real run directory (plan, journal, bodies) and draws a new plan; the plan log stays", async () => {
    const dir = join(await tempDir(), "run");
    const first = await loadOrCreatePlan(dir, wanted, false);
    const { writer } = await openRunJournal(dir, { protocol: "tfserving", target });
    await writer.append([], [{ sha256: "a".repeat(64), bytes: new Uint8Array([1, 2, 3]) }]);
    await writer.close();
    expect((await readdir(dir)).sort()).toEqual(["answers.jsonl", "bodies.log", "plan.json", "plans.jsonl"]);
    const again = await loadOrCreatePlan(dir, wanted, true);
    expect(again.resumed).toBe(false);
    expect(again.doc.runSeed).not.toBe(first.doc.runSeed);
    expect((await readdir(dir)).sort()).toEqual(["plan.json", "plans.jsonl"]);
    // The dropped run is still committed: the new plan is counted after it.
    expect(again.committed.map((c) => c.planHash)).toEqual([first.planHash, again.planHash]);
  });

  it("clears a fetched suspect model (--protocol url), but not one the user put a folder in", async () => {
    const dir = join(await tempDir(), "run");
    await loadOrCreatePlan(dir, wanted, false);
    await mkdir(join(dir, "suspect-model"));
    await writeFile(join(dir, "suspect-model", "model.json"), "{}");
    await writeFile(join(dir, "download.json"), "{}");
    await loadOrCreatePlan(dir, wanted, true);
    expect((await readdir(dir)).sort()).toEqual(["plan.json", "plans.jsonl"]);
    await mkdir(join(dir, "suspect-model", "mine"), { recursive: true });
    await expect(loadOrCreatePlan(dir, wanted, true)).rejects.toMatchObject({
      code: "DETECT_RUN_DIR_FOREIGN",
      message: expect.stringContaining('"suspect-model"'),
    });
    expect(await readdir(join(dir, "suspect-model"))).toEqual(["mine"]);
  });
});
