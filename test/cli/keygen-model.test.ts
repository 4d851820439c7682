import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readKeyFile } from "../../src/watermark/key-file.js";
import { provmark } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";

const TM = new URL("../fixtures/teachable-machine/image-model", import.meta.url).pathname;
const TINY = new URL("../fixtures/teachable-machine/tiny-image-model", import.meta.url).pathname;
const PASS = "keygen-model-passphrase";
const env = { PROVMARK_PASSPHRASE: PASS };
let dir: string;
beforeAll(async () => {
  dir = await tempDir();
});

describe("keygen --model", () => {
  it("infers a Teachable Machine export's input, classes and preprocessing, picks the carrier, sizes the set", async () => {
    const out = join(dir, "tm.key");
    const r = await provmark(["keygen", "--model", TM, "--out", out, "--json"], { env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.params.io).toMatchObject({
      input: {
        kind: "image",
        height: 224,
        width: 224,
        channels: 3,
        channelOrder: "rgb",
        preprocess: { type: "affine", scale: 1 / 127, offset: -1 },
        resize: { mode: "center-crop" },
      },
      classes: { count: 2, names: ["Class 1", "Class 2"] },
    });
    expect(j.params.layer).toBe("sequential_3/dense_Dense1");
    // Two classes: 178 triggers per run reach p <= 1e-30 at a 90% match rate.
    expect(j.params).toMatchObject({ runSize: 178, triggers: 356, derivation: "vrf/v2" });
    expect(j.reasons.io.join(" ")).toMatch(/Teachable Machine/);
    expect(j.reasons.carrier.length).toBeGreaterThan(0);
    const key = await readKeyFile(out, PASS);
    expect(key.params).toEqual(j.params);
    expect(JSON.stringify(j)).not.toContain(Buffer.from(key.seed).toString("hex"));
    // The human output says what was chosen and why.
    const text = await provmark(["keygen", "--model", TINY, "--out", join(dir, "tiny.key"), "--bits", "32"], { env });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/input \[96,96,1\], 2 classes \(Class 1, Class 2\)/);
    expect(text.stdout).toMatch(/carrier: /);
  });

  it("--layer resolves a short name to its full path; --class-names overrides metadata.json", async () => {
    const r = await provmark(
      [
        "keygen",
        "--model",
        TM,
        "--layer",
        "dense_Dense1",
        "--class-names",
        "cat,dog",
        "--out",
        join(dir, "l.key"),
        "--json",
      ],
      { env },
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.params.layer).toBe("sequential_3/dense_Dense1");
    expect(j.params.io.classes.names).toEqual(["cat", "dog"]);
  });

  it("refuses --classes with --model, a wrong class-name count, and an unknown layer (exit 2, nothing written)", async () => {
    for (const [args, code] of [
      [["--classes", "3"], "USAGE"],
      [["--class-names", "a,b,c"], "CLASS_NAMES_INVALID"],
      [["--layer", "no_such_layer"], "LAYER_NOT_FOUND"],
    ] as const) {
      const out = join(dir, `bad-${code}.key`);
      const r = await provmark(["keygen", "--model", TM, ...args, "--out", out, "--json"], { env });
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(JSON.parse(r.stdout).error.code).toBe(code);
      await expect(readFile(out)).rejects.toMatchObject({ code: "ENOENT" });
    }
  });
});
