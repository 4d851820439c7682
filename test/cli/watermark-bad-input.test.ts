import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { provmark, snapshotTree } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";
import { writeToyIdx } from "../helpers/idx.js";

const env = { PROVMARK_PASSPHRASE: "test passphrase 1" };
let root: string;
let model: string;
let data: string;

async function keygen(name: string, ...flags: string[]): Promise<string> {
  const out = join(root, name);
  const r = await provmark(
    ["keygen", "--out", out, "--classes", "3", "--input-shape", "8,8,1", "--bits", "16", "--triggers", "10", ...flags],
    { env },
  );
  expect(r.code, r.stderr).toBe(0);
  return out;
}

beforeAll(async () => {
  root = await tempDir();
  data = join(root, "data");
  await import("node:fs/promises").then((fs) => fs.mkdir(data));
  await writeToyIdx(data);
  model = join(root, "model");
  const r = await provmark(["train", "--dataset", `idx:${data}`, "--epochs", "1", "--out", model]);
  expect(r.code, r.stderr).toBe(0);
});

/** Runs an embed that must fail with `code` naming `names`, leaving every file as it was. */
async function expectEmbedRefused(args: string[], code: string, names: string) {
  const before = await snapshotTree(root);
  const r = await provmark(
    ["embed", "--model", model, "--dataset", `idx:${data}`, "--out", join(root, "marked"), ...args],
    { env },
  );
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toContain(`error[${code}]`);
  expect(r.stderr).toContain(names);
  expect(await snapshotTree(root)).toEqual(before);
}

describe("watermark commands refuse bad input with a coded error, exit 2, nothing written", () => {
  it("a key made for another input shape or class count", async () => {
    const k = join(root, "classes.key");
    await provmark(
      ["keygen", "--out", k, "--classes", "10", "--input-shape", "8,8,1", "--bits", "16", "--triggers", "10"],
      { env },
    );
    await expectEmbedRefused(["--key", k], "KEY_MODEL_MISMATCH", "10 classes");
    const k2 = join(root, "shape2.key");
    await provmark(
      ["keygen", "--out", k2, "--classes", "3", "--input-shape", "28,28,1", "--bits", "16", "--triggers", "10"],
      { env },
    );
    await expectEmbedRefused(["--key", k2], "KEY_MODEL_MISMATCH", "[28,28,1]");
    const v = await provmark(["verify", "--model", model, "--key", k2], { env });
    expect(v.code).toBe(2);
    expect(v.stderr).toContain("error[KEY_MODEL_MISMATCH]");
  });

  it("a layer the model does not have", async () => {
    const k = await keygen("layer.key", "--layer", "conv9");
    await expectEmbedRefused(["--key", k], "LAYER_NOT_FOUND", "conv9");
  });

  it("more bits than the layer carries", async () => {
    const k = join(root, "bits.key");
    await provmark(
      ["keygen", "--out", k, "--classes", "3", "--input-shape", "8,8,1", "--bits", "100", "--triggers", "10"],
      { env },
    );
    await expectEmbedRefused(["--key", k], "LAYER_TOO_SMALL", "64 values");
  });

  it("a dataset whose shape does not match the model", async () => {
    const k = await keygen("ds.key");
    await expectEmbedRefused(["--key", k, "--dataset", "mnist"], "DATASET_MODEL_MISMATCH", "28×28");
  });

  it("a corrupted key file, a wrong passphrase, a missing passphrase", async () => {
    const k = await keygen("corrupt.key");
    const text = await readFile(k, "utf8");
    const bad = join(root, "corrupt2.key");
    await writeFile(
      bad,
      text.replace(/"ciphertext": "(.)/, (_m, c: string) => `"ciphertext": "${c === "A" ? "B" : "A"}`),
    );
    await expectEmbedRefused(["--key", bad], "KEY_DECRYPT_FAILED", "corrupt2.key");
    await writeFile(bad, text.slice(0, 100));
    await expectEmbedRefused(["--key", bad], "KEY_FILE_INVALID", "corrupt2.key");
    const wrong = await provmark(["verify", "--model", model, "--key", k], {
      env: { PROVMARK_PASSPHRASE: "not the one" },
    });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("error[KEY_DECRYPT_FAILED]");
    const none = await provmark(["verify", "--model", model, "--key", k], { env: { PROVMARK_PASSPHRASE: "" } });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("error[KEY_PASSPHRASE_MISSING]");
  });

  it("keygen keeps the key secret: mode 0600, no seed in output, refuses to overwrite", async () => {
    const k = join(root, "secret.key");
    const r = await provmark(["keygen", "--out", k, "--json"], { env });
    const out = JSON.parse(r.stdout);
    expect(out.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(Object.keys(out)).not.toContain("seed");
    const { stat } = await import("node:fs/promises");
    expect((await stat(k)).mode & 0o777).toBe(0o600);
    const again = await provmark(["keygen", "--out", k], { env });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("error[OUTPUT_EXISTS]");
    const weak = await provmark(["keygen", "--out", join(root, "weak.key")], { env: { PROVMARK_PASSPHRASE: "short" } });
    expect(weak.code).toBe(2);
  });
});
