import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { provmark } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";

const IRIS = new URL("../fixtures/tabular/iris.csv", import.meta.url).pathname;

describe("train refuses datasets it cannot use, by code, with exit 2 and nothing written", () => {
  it("a table, unlabelled images, and a CMYK image named by its path", async () => {
    const root = await tempDir();
    const images = join(root, "images");
    for (const c of ["a", "b"]) {
      await mkdir(join(images, c), { recursive: true });
      await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 9, g: 9, b: 9 } } })
        .png()
        .toFile(join(images, c, "1.png"));
    }
    const cmyk = join(images, "b", "print.jpg");
    await writeFile(
      cmyk,
      await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 200, g: 9, b: 9 } } })
        .toColourspace("cmyk")
        .jpeg()
        .toBuffer(),
    );
    for (const [spec, code, names] of [
      [`csv:${IRIS}`, "DATASET_MODEL_MISMATCH", "tabular"],
      [`unlabeled:${images}`, "DATASET_UNLABELLED", "has no labels"],
      [`images:${images}`, "IMAGE_COLOURSPACE", cmyk],
    ] as const) {
      const out = join(root, "never");
      const r = await provmark(["train", "--dataset", spec, "--out", out]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`error[${code}]`);
      expect(r.stderr).toContain(names);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      await expect(readFile(join(out, "model.json"))).rejects.toThrow(/ENOENT/);
    }
  });
});
