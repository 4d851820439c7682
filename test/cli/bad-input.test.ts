import { chmod, mkdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { provmark, snapshotTree } from "../helpers/cli.js";
import { f32, tempDir, writeFakeModel } from "../helpers/fixtures.js";

let root: string;
beforeAll(async () => {
  root = await tempDir();
});

async function model(name: string): Promise<string> {
  const dir = join(root, name);
  await writeFakeModel(dir, [
    { name: "d/kernel", shape: [4, 3] },
    { name: "d/bias", shape: [3] },
  ]);
  return dir;
}

/** Runs inspect and hash (text and --json) on a broken model: both must fail the same coded way. */
async function expectRejected(dir: string, code: string, names: string) {
  const before = await snapshotTree(root);
  for (const cmd of ["inspect", "hash"]) {
    const r = await provmark([cmd, dir]);
    expect(r.code, `${cmd}: ${r.stderr}`).toBe(2);
    expect(r.stderr).toContain(`error[${code}]`);
    expect(r.stderr).toContain(names);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --debug
    const j = await provmark([cmd, dir, "--json"]);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout).error.code).toBe(code);
  }
  expect(await snapshotTree(root)).toEqual(before);
}

describe("bad input is refused with a coded message, exit 2, and nothing written", () => {
  it("a missing directory", async () => {
    await expectRejected(join(root, "nope"), "PATH_NOT_FOUND", "nope");
  });

  it("malformed model.json", async () => {
    const dir = await model("malformed");
    const text = await readFile(join(dir, "model.json"), "utf8");
    await writeFile(join(dir, "model.json"), text.slice(0, text.length / 2));
    await expectRejected(dir, "MODEL_JSON_INVALID", "model.json");
  });

  it("model.json with the wrong shape", async () => {
    const dir = await model("wrongshape");
    await writeFile(
      join(dir, "model.json"),
      JSON.stringify({ format: "layers-model", weightsManifest: [{ paths: 3 }] }),
    );
    await expectRejected(dir, "MODEL_JSON_INVALID", "weightsManifest");
  });

  it("a shard shorter than the manifest says", async () => {
    const dir = await model("truncated");
    await truncate(join(dir, "group1-shard1of1.bin"), 10);
    await expectRejected(dir, "MODEL_SHARD_TRUNCATED", "group1-shard1of1.bin");
  });

  it("a shard that is missing", async () => {
    const dir = await model("missing-shard");
    await rm(join(dir, "group1-shard1of1.bin"));
    await expectRejected(dir, "MODEL_SHARD_MISSING", "group1-shard1of1.bin");
  });

  it("an unknown dtype", async () => {
    const dir = await model("dtype");
    const m = JSON.parse(await readFile(join(dir, "model.json"), "utf8"));
    m.weightsManifest[0].weights[1].dtype = "float128";
    await writeFile(join(dir, "model.json"), JSON.stringify(m));
    await expectRejected(dir, "MODEL_DTYPE_UNKNOWN", "float128");
  });

  it("NaN weights", async () => {
    const dir = join(root, "nan");
    await writeFakeModel(dir, [
      { name: "d/kernel", shape: [2, 2], bytes: f32([0.5, 1, Number.NaN, 2]) },
      { name: "d/bias", shape: [2], bytes: f32([0, 0]) },
    ]);
    await expectRejected(dir, "MODEL_WEIGHTS_NONFINITE", "d/kernel");
  });

  it("a directory that is not a model", async () => {
    const dir = join(root, "not-a-model");
    await mkdir(dir);
    await writeFile(join(dir, "README.txt"), "hello");
    await expectRejected(dir, "MODEL_NOT_FOUND", "not-a-model");
    const files = await provmark(["hash", dir, "--files-only", "--json"]);
    expect(files.code).toBe(0);
    expect(JSON.parse(files.stdout).files).toEqual([
      { path: "README.txt", size: 5, sha256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" },
    ]);
  });

  it("an unreadable file", async () => {
    const dir = await model("unreadable");
    if (process.getuid?.() === 0) {
      // root reads through permissions; a directory where the shard should be is unreadable for everyone
      await rm(join(dir, "group1-shard1of1.bin"));
      await mkdir(join(dir, "group1-shard1of1.bin"));
    } else {
      await chmod(join(dir, "group1-shard1of1.bin"), 0o000);
    }
    await expectRejected(dir, "PATH_UNREADABLE", "group1-shard1of1.bin");
  });
});

describe("usage errors", () => {
  it("an invalid flag value exits 2 and names the flag", async () => {
    const r = await provmark(["train", "--out", join(root, "x"), "--epochs", "zero"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--epochs must be an integer");
  });

  it("--debug adds the stack trace to a coded error", async () => {
    const r = await provmark(["--debug", "inspect", join(root, "nope")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error[PATH_NOT_FOUND]");
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it("an unknown command exits 2", async () => {
    const r = await provmark(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command");
  });

  it("an unknown dataset is refused before anything is written", async () => {
    const out = join(root, "never");
    const r = await provmark(["train", "--dataset", "cifar", "--out", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error[DATASET_UNKNOWN]");
    await expect(readFile(join(out, "model.json"))).rejects.toThrow(/ENOENT/);
  });

  it("an existing --out is refused unless --force", async () => {
    const dir = await model("exists");
    const before = await snapshotTree(dir);
    const r = await provmark(["train", "--out", dir, "--epochs", "1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error[OUTPUT_EXISTS]");
    expect(await snapshotTree(dir)).toEqual(before);
  });
});
