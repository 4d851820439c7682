import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { provmark } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";
import { writeToyIdx } from "../helpers/idx.js";

describe("provmark doctor", () => {
  it("reports the backend in use and why preferred ones did not load", async () => {
    const r = await provmark(["doctor", "--json"], {
      env: { PROVMARK_BACKEND: "auto", PROVMARK_HOME: "/tmp/pm-home" },
    });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.node).toMatch(/^v2[2-9]\./);
    expect(j.dataDir).toBe("/tmp/pm-home");
    expect(j.chain.mode).toBe("embedded");
    expect(j.ipfs.blockstoreDir).toBe("/tmp/pm-home/ipfs");
    expect(["tensorflow", "wasm", "cpu"]).toContain(j.backend.backend);
    if (j.backend.backend !== "tensorflow") {
      expect(j.backend.attempts[0]).toMatchObject({ backend: "tensorflow", ok: false });
      expect(j.backend.attempts[0].reason.length).toBeGreaterThan(10);
    }
  });

  it("reports the wasm backend's threads and native kernels, and rejects a bad thread count", async () => {
    const r = await provmark(["--backend", "wasm", "doctor", "--json"], {
      env: { PROVMARK_WASM_THREADS: "2", PROVMARK_HOME: "/tmp/pm-home" },
    });
    expect(JSON.parse(r.stdout).backend.wasm).toEqual({ simd: true, threads: 2, native: true });
    const off = await provmark(["--backend", "wasm", "doctor", "--json"], {
      env: { PROVMARK_WASM_THREADS: "1", PROVMARK_WASM_NATIVE: "0", PROVMARK_HOME: "/tmp/pm-home" },
    });
    expect(JSON.parse(off.stdout).backend.wasm).toEqual({ simd: true, threads: 1, native: false });
    const bad = await provmark(["--backend", "wasm", "train", "--out", "/tmp/pm-never"], {
      env: { PROVMARK_WASM_THREADS: "many" },
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("PROVMARK_WASM_THREADS");
    expect(existsSync("/tmp/pm-never")).toBe(false);
  });

  it("honours a forced backend", async () => {
    const r = await provmark(["--backend", "cpu", "doctor", "--json"]);
    expect(JSON.parse(r.stdout).backend).toMatchObject({ backend: "cpu", requested: "cpu" });
  });
});

describe("provmark train / hash / inspect", () => {
  it("trains, then hash and inspect describe the saved model", async () => {
    const data = await tempDir();
    await writeToyIdx(data, { gzip: true });
    const out = join(await tempDir(), "model");
    const t = await provmark([
      "train",
      "--dataset",
      `idx:${data}`,
      "--epochs",
      "2",
      "--seed",
      "3",
      "--out",
      out,
      "--json",
    ]);
    expect(t.code, t.stderr).toBe(0);
    const trained = JSON.parse(t.stdout);
    expect(trained).toMatchObject({ arch: "mlp", epochs: 2, seed: 3, trainExamples: 300, testExamples: 90 });
    expect(trained.testAccuracy).toBeGreaterThan(0.8);
    const h = JSON.parse((await provmark(["hash", out, "--json"])).stdout);
    expect(h.files.map((f: { path: string }) => f.path)).toEqual(["group1-shard1of1.bin", "model.json"]);
    expect(h.filesDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(h.weightsDigest).toMatch(/^[0-9a-f]{64}$/);
    const i = JSON.parse((await provmark(["inspect", out, "--json"])).stdout);
    expect(i.format).toBe("layers-model");
    expect(i.paramCount).toBe(64 * 256 + 256 + 256 * 128 + 128 + 128 * 3 + 3);
    expect(i.quantization).toEqual({ float32: 6 });
    const human = await provmark(["inspect", out]);
    expect(human.stdout).toContain("dense1    Dense    16640");
  });

  it("refuses CNN training on images too small for its two pooling stages, writing nothing", async () => {
    const data = await tempDir();
    await writeToyIdx(data);
    const out = join(await tempDir(), "cnn");
    const r = await provmark(["--backend", "wasm", "train", "--dataset", `idx:${data}`, "--arch", "cnn", "--out", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error[DATASET_MODEL_MISMATCH]");
    expect(r.stderr).toContain("8x8x1");
    expect(existsSync(out)).toBe(false);
  });
});
