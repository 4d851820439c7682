import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { filesRoot, sha256sumLine } from "../../src/core/digest/index.js";
import { hashModel } from "../../src/model/hash-model.js";
import { tempDir } from "../helpers/fixtures.js";

describe("files digest", () => {
  it("equals the coreutils pipeline documented for auditors", async () => {
    const dir = await tempDir();
    await mkdir(join(dir, "sub dir"), { recursive: true });
    await writeFile(join(dir, "model.json"), '{"a":1}');
    await writeFile(join(dir, "b.bin"), new Uint8Array(5000).fill(7));
    await writeFile(join(dir, "sub dir", "Z.txt"), "zed");
    await writeFile(join(dir, "sub dir", "ä.txt"), "unicode");
    await writeFile(join(dir, "back\\slash"), "escaped by sha256sum");
    const r = await hashModel(dir, { filesOnly: true });
    const shell = execFileSync(
      "bash",
      ["-c", "find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum | cut -d' ' -f1"],
      { cwd: dir, encoding: "utf8" },
    ).trim();
    expect(r.filesDigest).toBe(shell);
    expect(r.files.map((f) => f.path)).toEqual([
      "b.bin",
      "back\\slash",
      "model.json",
      "sub dir/Z.txt",
      "sub dir/ä.txt",
    ]);
    expect(r.files.find((f) => f.path === "b.bin")).toMatchObject({ size: 5000 });
  });

  it("does not depend on the order files are listed in, and binds every path", () => {
    const entry = fc.record({
      path: fc.string({ minLength: 1, maxLength: 12 }),
      size: fc.nat(),
      sha256: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex")),
    });
    fc.assert(
      fc.property(fc.uniqueArray(entry, { minLength: 1, maxLength: 8, selector: (e) => e.path }), (files) => {
        const root = filesRoot(files);
        expect(filesRoot([...files].reverse())).toBe(root);
        const renamed = [{ ...(files[0] as (typeof files)[0]), path: `${files[0]?.path}~` }, ...files.slice(1)];
        if (!files.some((f) => f.path === renamed[0]?.path)) expect(filesRoot(renamed)).not.toBe(root);
      }),
    );
  });

  it("escapes names like GNU sha256sum", () => {
    expect(sha256sumLine({ path: "a\nb", sha256: "00" })).toBe("\\00  a\\nb\n");
    expect(sha256sumLine({ path: "plain", sha256: "ff" })).toBe("ff  plain\n");
  });
});
