import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureNode22BinDir } from "../../scripts/node22.mjs";
import { runProcess } from "../helpers/cli.js";
import { FakeNpmRegistry } from "../helpers/npm-registry.js";

// The real npm (the pinned one) installs a small project from a registry on 127.0.0.1 that changes
// under the committed lockfile, as the public registry did in Dec 2026.
const SCRIPTS = fileURLToPath(new URL("../../scripts/", import.meta.url));
const OTHER_OS = process.platform === "aix" ? "sunos" : "aix";

let root: string;
let registry: FakeNpmRegistry;

function env(): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  // `npm run` exports npm_config_local_prefix and friends, which would point npm at provmark itself.
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) out[k] = v;
  out.PATH = `${ensureNode22BinDir({ quiet: true })}${delimiter}${process.env.PATH ?? ""}`;
  out.npm_config_registry = registry.url;
  out.npm_config_cache = join(root, "npm-cache");
  out.npm_config_prefer_online = "true";
  out.npm_config_update_notifier = "false";
  return out;
}

// Asynchronous (runProcess): the registry answers from this very process, so a blocking spawn would deadlock.
const run = (cwd: string, command: string, args: string[]) => runProcess(command, args, { cwd, env: env() });
const script = (cwd: string, name: string) => run(cwd, process.execPath, [join(SCRIPTS, name)]);

async function project(name: string, dependencies: Record<string, string>): Promise<string> {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name, version: "1.0.0", private: true, dependencies })}\n`,
  );
  const lock = await run(dir, "npm", ["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"]);
  expect(lock.code, lock.stderr).toBe(0);
  return dir;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "provmark-install-"));
  registry = new FakeNpmRegistry(join(root, "packages"));
  registry.publish({
    name: "pm-native",
    version: "1.0.0",
    optionalDependencies: { "pm-native-here": "1.0.0", "pm-native-other": "1.0.0" },
  });
  registry.publish({ name: "pm-native-here", version: "1.0.0", os: [process.platform] });
  registry.publish({ name: "pm-native-other", version: "1.0.0", os: [OTHER_OS] });
  registry.publish({ name: "pm-extra", version: "1.0.0" });
  await registry.start();
});

afterAll(async () => {
  await registry?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("lockfile guard and installer against a registry that changes", () => {
  it("a complete lockfile passes the guard and installs whether or not the registry serves other platforms' builds", async () => {
    const dir = await project("complete", { "pm-native": "1.0.0" });
    const lock = readFileSync(join(dir, "package-lock.json"));
    expect(JSON.parse(lock.toString()).packages["node_modules/pm-native-other"].os).toEqual([OTHER_OS]);

    const guard = await script(dir, "check-lockfile.mjs");
    expect(guard.code, guard.stderr).toBe(0);
    expect(guard.stdout).toContain("package-lock.json is in sync");

    registry.hide("pm-native-other"); // a mirror without other platforms' builds
    try {
      expect((await script(dir, "check-lockfile.mjs")).code).toBe(0);
      const install = await script(dir, "install.mjs");
      expect(install.code, install.stderr).toBe(0);
      expect(existsSync(join(dir, "node_modules/pm-native-here/package.json"))).toBe(true);
      expect(existsSync(join(dir, "node_modules/pm-native-other"))).toBe(false);
      expect(readFileSync(join(dir, "package-lock.json")).equals(lock)).toBe(true);
    } finally {
      registry.unhide("pm-native-other");
    }
  });

  it("a lockfile without a build the registry now serves fails the guard, naming the fix; setup still installs the locked tree", async () => {
    const dir = await project("stale", { "pm-native": "1.0.0" });
    // The Dec 2026 state: npm wrote the lockfile before the registry served this build.
    const stale = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8"));
    delete stale.packages["node_modules/pm-native-other"];
    writeFileSync(join(dir, "package-lock.json"), `${JSON.stringify(stale, null, 2)}\n`);
    const staleBytes = readFileSync(join(dir, "package-lock.json"));

    const guard = await script(dir, "check-lockfile.mjs");
    expect(guard.code).toBe(1);
    expect(guard.stderr).toContain("missing: pm-native-other@1.0.0");
    expect(guard.stderr).toContain("`npm run lock`");

    const install = await script(dir, "install.mjs");
    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout).toContain("installed exactly the locked tree");
    expect(install.stderr).toContain("WARNING: package-lock.json lacks optional entries");
    expect(existsSync(join(dir, "node_modules/pm-native-here/package.json"))).toBe(true);
    expect(readFileSync(join(dir, "package-lock.json")).equals(staleBytes)).toBe(true);
  });

  it("refuses, and changes nothing, when what is missing is a real dependency rather than another platform's build", async () => {
    const dir = await project("unlocked", { "pm-native": "1.0.0" });
    const lockBytes = readFileSync(join(dir, "package-lock.json"));
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    pkg.dependencies["pm-extra"] = "1.0.0"; // added to package.json, lockfile not regenerated
    writeFileSync(join(dir, "package.json"), `${JSON.stringify(pkg)}\n`);

    const guard = await script(dir, "check-lockfile.mjs");
    expect(guard.code).toBe(1);
    expect(guard.stderr).toContain("missing: pm-extra@1.0.0");

    const install = await script(dir, "install.mjs");
    expect(install.code).toBe(1);
    expect(install.stderr).toContain("missing: pm-extra@1.0.0");
    expect(install.stderr).toContain("`npm run lock`");
    expect(existsSync(join(dir, "node_modules/pm-extra"))).toBe(false);
    expect(readFileSync(join(dir, "package-lock.json")).equals(lockBytes)).toBe(true);
  });
});
