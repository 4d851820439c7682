import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compileNative, renderNative } from "../../scripts/native/compile.js";

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
    const run = (threads: string) => {
      const r = spawnSync(process.execPath, ["--import", "tsx", script], {
        env: { ...process.env, PROVMARK_WASM_THREADS: threads },
        encoding: "utf8",
        timeout: 120_000,
      });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout.trim().split("\n").at(-1) as string) as { threads: number; digest: string };
    };
    const one = run("1");
    const two = run("2");
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    expect(two.digest).toBe(one.digest);
  });
});
