import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compileNative, renderNative } from "../../scripts/native/compile.js";
import { isProvmarkError } from "../../src/errors.js";
import { wasmThreadCount } from "../../src/model/wasm-threads.js";

const root = new URL("../../", import.meta.url);

describe("src/model/wasm-kernels/generated/native-kernels.ts", () => {
  it("is what scripts/build-native.ts compiles from native/assembly", async () => {
    const current = await readFile(new URL("src/model/wasm-kernels/generated/native-kernels.ts", root), "utf8");
    const built = renderNative(await compileNative(fileURLToPath(new URL("native/assembly/index.ts", root))));
    expect(current, "stale: run npx tsx scripts/build-native.ts").toBe(built);
  });
});

describe("the threaded wasm backend", () => {
  // Training must not depend on the thread count: XNNPACK splits outputs, never a sum, between
  // threads. Two processes train the same CNN a few steps; their weights must be identical.
  it("trains bit-identically on 1 and 2 threads", () => {
    const script = fileURLToPath(new URL("test/helpers/train-digest.ts", root));
    const run = (threads: string, env: Record<string, string> = {}) => {
      // A private TMPDIR: the threaded build's worker script must not be left behind in it.
      const tmp = mkdtempSync(join(tmpdir(), "provmark-test-tmp-"));
      try {
        const r = spawnSync(process.execPath, ["--import", "tsx", script], {
          env: { ...process.env, PROVMARK_WASM_THREADS: threads, TMPDIR: tmp, ...env },
          encoding: "utf8",
          timeout: 120_000,
        });
        expect(r.status, r.stderr).toBe(0);
        expect(readdirSync(tmp).filter((f) => f.startsWith("provmark-wasm-"))).toEqual([]);
        const out = JSON.parse(r.stdout.trim().split("\n").at(-1) as string);
        expect(out.leftovers, "worker script left in tmp while running").toEqual([]);
        return out as { threads: number; threadsUnavailable?: string; digest: string };
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    };
    const one = run("1");
    const two = run("2");
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    expect(two.digest).toBe(one.digest);
    // The threaded build cannot start (its worker script cannot be written: TMPDIR is a file):
    // the single-threaded build trains instead, with the reason reported.
    const notDir = join(mkdtempSync(join(tmpdir(), "provmark-test-tmp-")), "file");
    writeFileSync(notDir, "");
    try {
      const fallback = run("2", { TMPDIR: notDir, TSX_DISABLE_CACHE: "1" });
      expect(fallback.threads).toBe(1);
      expect(fallback.threadsUnavailable).toMatch(/ENOTDIR/);
      expect(fallback.digest).toBe(one.digest);
    } finally {
      rmSync(dirname(notDir), { recursive: true, force: true });
    }
  });
});

describe("wasmThreadCount", () => {
  it("reads PROVMARK_WASM_THREADS, defaults to the core count, and rejects bad values as usage errors", () => {
    expect(wasmThreadCount({ PROVMARK_WASM_THREADS: "1" })).toBe(1);
    expect(wasmThreadCount({ PROVMARK_WASM_THREADS: "8" })).toBe(8);
    const auto = wasmThreadCount({});
    expect(auto).toBeGreaterThanOrEqual(1);
    expect(auto).toBeLessThanOrEqual(8);
    for (const bad of ["0", "9", "2.5", "two", "-1"]) {
      let caught: unknown;
      try {
        wasmThreadCount({ PROVMARK_WASM_THREADS: bad });
      } catch (e) {
        caught = e;
      }
      expect(isProvmarkError(caught, "USAGE"), bad).toBe(true);
    }
  });
});
