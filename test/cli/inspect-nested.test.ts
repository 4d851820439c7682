import { cp, rm } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { provmark } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";
import { TM_IMAGE_MODEL } from "../helpers/nested-model.js";

let bare: string;
beforeAll(async () => {
  bare = join(await tempDir(), "bare");
  await cp(TM_IMAGE_MODEL, bare, { recursive: true });
  await rm(join(bare, "metadata.json"));
});

describe("provmark inspect on the Teachable Machine export", () => {
  it("shows nested layers by full path, class names, inferred inputs and the carrier", async () => {
    const human = await provmark(["inspect", TM_IMAGE_MODEL]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain("input:        image 224×224×3 rgb, x·0.00787402 - 1, resize center-crop");
    expect(human.stdout).toContain("classes:      2 (Class 1, Class 2)");
    expect(human.stdout).toContain("carrier:      sequential_3/dense_Dense1 (1280 values)");
    expect(human.stdout).toMatch(/\nsequential_3\/dense_Dense1 +Dense +128100\n/);
    expect(human.stdout).toMatch(/\nsequential_2\/mobilenetv2_0\.35_224\/block_16_depthwise +DepthwiseConv2D /);
    const j = JSON.parse((await provmark(["inspect", TM_IMAGE_MODEL, "--json"])).stdout);
    expect(j.io.io.classes.names).toEqual(["Class 1", "Class 2"]);
    expect(j.carrier.layer).toBe("sequential_3/dense_Dense1");
    expect(j.layers.map((l: { path: string }) => l.path)).toContain("sequential_2/mobilenetv2_0.35_224/out_relu");
  });

  it("says what it cannot infer and takes the flags that fill it in", async () => {
    const r = await provmark(["inspect", bare]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("io:           not inferred: error[PREPROCESS_REQUIRED]");
    const given = await provmark(["inspect", bare, "--preprocess", "pixel/255", "--class-names", "cat, dog"]);
    expect(given.stdout).toContain("input:        image 224×224×3 rgb, x·0.00392157 + 0, resize stretch");
    expect(given.stdout).toContain("classes:      2 (cat, dog)");
    const none = await provmark(["inspect", bare, "--no-io"]);
    expect(none.stdout).not.toContain("io:");
    expect(none.stdout).not.toContain("carrier:");
  });

  it("refuses bad flags with a coded error and exit 2", async () => {
    for (const [args, code, text] of [
      [["--preprocess", "pixel/256"], "USAGE", "unknown preprocessing preset"],
      [["--class-names", "a,b,c"], "CLASS_NAMES_INVALID", "3 names for the model's 2 classes"],
      [["--class-names", '["a",'], "USAGE", "not a valid JSON list"],
    ] as const) {
      const r = await provmark(["inspect", bare, ...args]);
      expect(r.code, r.stdout).toBe(2);
      expect(r.stderr).toContain(`error[${code}]`);
      expect(r.stderr).toContain(text);
    }
  });
});
