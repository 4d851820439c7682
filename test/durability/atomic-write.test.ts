import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeDirAtomic } from "../../src/model/atomic-write.js";
import { tempDir } from "../helpers/fixtures.js";
import { runLimited, straceWorks, traceFsOps } from "./child.js";

const leftovers = async (dir: string) => (await readdir(dir)).filter((f) => f.includes(".tmp-") || f.includes(".old-"));

describe.skipIf(!straceWorks)("atomic writes reach the disk before they are published (traced with strace)", () => {
  it("writeFileAtomic: fsync the temp file, rename it over the target, fsync the directory", async () => {
    const dir = await tempDir();
    const target = join(dir, "deployments", "31337.json");
    const { ops, outcome } = await traceFsOps(dir, ["file", target, "5000"]);
    expect(outcome).toEqual({ ok: true });
    expect(await readFile(target, "utf8")).toBe("x".repeat(5000));
    const rename = ops.findIndex((o) => o.op === "rename" && o.to === target);
    expect(rename, JSON.stringify(ops)).toBeGreaterThan(0);
    const tmp = ops[rename]?.path as string;
    expect(ops.slice(0, rename).some((o) => o.op === "fsync" && o.path === tmp)).toBe(true);
    expect(ops.slice(rename + 1).some((o) => o.op === "fsync" && o.path === join(dir, "deployments"))).toBe(true);
  });

  it("writeDirAtomic: fsync every file and directory of the temp tree, rename it, fsync the parent", async () => {
    const dir = await tempDir();
    const out = join(dir, "reports", "r1");
    const { ops, outcome } = await traceFsOps(dir, ["dir", out, "3000"]);
    expect(outcome).toEqual({ ok: true });
    const rename = ops.findIndex((o) => o.op === "rename" && o.to === out);
    expect(rename, JSON.stringify(ops)).toBeGreaterThan(0);
    const tmp = ops[rename]?.path as string;
    const before = new Set(ops.slice(0, rename).flatMap((o) => (o.op === "fsync" ? [o.path] : [])));
    for (const p of [join(tmp, "report.json"), join(tmp, "bodies", "a".repeat(64)), join(tmp, "bodies"), tmp]) {
      expect(before.has(p), `${p} synced before the rename`).toBe(true);
    }
    expect(ops.slice(rename + 1).some((o) => o.op === "fsync" && o.path === join(dir, "reports"))).toBe(true);
  });
});

describe("atomic writes that fail leave the old content and no temp files", () => {
  it("a file that outgrows the size limit (a real EFBIG mid-write): old content kept, no temp left", async () => {
    const dir = await tempDir();
    const target = join(dir, "key.json");
    await writeFile(target, "old");
    const r = await runLimited(64, ["file", target, String(4 << 20)]);
    expect(r).toMatchObject({ ok: false, code: "OUTPUT_WRITE_FAILED" });
    expect(await readFile(target, "utf8")).toBe("old");
    expect(await leftovers(dir)).toEqual([]);
  });

  it("a directory whose fill throws: nothing published, no temp left; a replaced one lands complete", async () => {
    const dir = await tempDir();
    const out = join(dir, "report");
    await expect(
      writeDirAtomic(out, async (tmp) => {
        await writeFile(join(tmp, "report.json"), "half");
        throw new Error("disk on fire");
      }),
    ).rejects.toMatchObject({ code: "OUTPUT_WRITE_FAILED", message: expect.stringContaining("disk on fire") });
    expect(await readdir(dir)).toEqual([]);
    await mkdir(out);
    await writeFile(join(out, "old.txt"), "old");
    await writeDirAtomic(out, async (tmp) => writeFile(join(tmp, "new.txt"), "new"), { overwrite: true });
    expect(await readdir(out)).toEqual(["new.txt"]);
    expect(await readFile(join(out, "new.txt"), "utf8")).toBe("new");
    expect(await leftovers(dir)).toEqual([]);
  });
});
