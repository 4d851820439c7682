import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { ErrorCodes } from "../src/errors.js";

describe("docs", () => {
  it("docs/errors.md lists every error code with its exit status", async () => {
    // table cells are compared with runs of spaces collapsed (the formatter aligns columns)
    const doc = (await readFile(new URL("../docs/errors.md", import.meta.url), "utf8")).replace(/ {2,}/g, " ");
    for (const [code, info] of Object.entries(ErrorCodes)) {
      expect(doc, `regenerate with: npx tsx scripts/gen-error-docs.ts > docs/errors.md`).toContain(
        `| \`${code}\` | ${info.exit} | ${info.summary} |`,
      );
    }
  });

  it("the README's quickstart is the two commands CI and the demo rely on", async () => {
    const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
    expect(readme).toContain("npm run setup && npm run demo");
    expect(readme).toMatch(/^npm test\b/m);
  });
});
