import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  installedTreeDifferences,
  type Lockfile,
  optionalNames,
  outOfSyncMessage,
  parseCiRefusal,
} from "../../scripts/lockfile.mjs";

// Real `npm ci --dry-run` refusals captured with npm 11.19.1 (test/fixtures/npm/README.md).
const fixture = (name: string) => readFileSync(new URL(`../fixtures/npm/${name}`, import.meta.url), "utf8");

describe("parseCiRefusal", () => {
  it("reads the platform builds a Dec 2026 lockfile lacks, with their versions", () => {
    const r = parseCiRefusal(fixture("ci-refusal-missing.txt"));
    expect(r.outOfSync).toBe(true);
    expect(r.invalid).toEqual([]);
    expect(r.missing).toHaveLength(13);
    expect(r.missing[0]).toEqual({ name: "@biomejs/cli-android-arm64", version: "2.6.8" });
    expect(r.missing).toContainEqual({ name: "@nomicfoundation/edr-win32-x64-msvc", version: "0.22.0" });
  });

  it("reads them without versions when the registry has no such package", () => {
    const r = parseCiRefusal(fixture("ci-refusal-registry-404.txt"));
    expect(r.missing).toHaveLength(13);
    expect(r.missing.every((m) => m.version === "")).toBe(true);
    expect(r.missing.map((m) => m.name)).toContain("@biomejs/cli-darwin-x64");
  });

  it("reports a locked version that no longer satisfies package.json as invalid", () => {
    const r = parseCiRefusal(fixture("ci-refusal-invalid.txt"));
    expect(r.outOfSync).toBe(true);
    expect(r.missing).toEqual([]);
    expect(r.invalid).toEqual(["Invalid: lock file's commander@15.1.0 does not satisfy commander@14.0.3"]);
  });

  it("does not mistake a network failure for drift", () => {
    const r = parseCiRefusal(
      "npm error code ENOTFOUND\nnpm error network request to https://registry.npmjs.org failed",
    );
    expect(r).toEqual({ outOfSync: false, missing: [], invalid: [] });
  });
});

describe("outOfSyncMessage", () => {
  it("names every problem and the exact regenerate command", () => {
    const text = outOfSyncMessage(parseCiRefusal(fixture("ci-refusal-missing.txt")), { prefix: "lockfile" });
    expect(text).toContain("missing: @biomejs/cli-darwin-arm64@2.6.8");
    expect(text).toContain("`npm run lock`");
    expect(text).toContain("npm install --package-lock-only --ignore-scripts");
  });
});

const lock: Lockfile = {
  packages: {
    "": { version: "1.0.0", optionalDependencies: { fsevents: "^2" } },
    "node_modules/a": { version: "1.0.0", integrity: "sha512-A" },
    "node_modules/b": { version: "2.0.0", integrity: "sha512-B", optionalDependencies: { "b-linux": "2.0.0" } },
    "node_modules/b-linux": { version: "2.0.0", integrity: "sha512-BL" },
  },
};

describe("optionalNames", () => {
  it("collects optional dependencies of the root and of every locked package", () => {
    expect([...optionalNames(lock)].sort()).toEqual(["b-linux", "fsevents"]);
  });
});

describe("installedTreeDifferences", () => {
  it("accepts the locked tree, or a part of it (other platforms' builds are not installed)", () => {
    const installed = { packages: { "node_modules/a": lock.packages?.["node_modules/a"] ?? {} } };
    expect(installedTreeDifferences(lock, installed)).toEqual([]);
    expect(installedTreeDifferences(lock, lock)).toEqual([]);
  });

  it("rejects a version that moved, a swapped tarball and a package the lockfile does not pin", () => {
    const installed: Lockfile = {
      packages: {
        "node_modules/a": { version: "1.0.1", integrity: "sha512-A" },
        "node_modules/b": { version: "2.0.0", integrity: "sha512-EVIL" },
        "node_modules/c": { version: "0.1.0" },
      },
    };
    expect(installedTreeDifferences(lock, installed)).toEqual([
      "node_modules/a is 1.0.1, package-lock.json pins 1.0.0",
      "node_modules/b@2.0.0 has integrity sha512-EVIL, package-lock.json has sha512-B",
      "node_modules/c@0.1.0 is installed but not in package-lock.json",
    ]);
  });
});
