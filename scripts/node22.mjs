#!/usr/bin/env node
// Runs a command under Node >= 22.13, fetching node@22 from the npm registry into a cache folder
// when the machine's Node is older. Hardhat 3, its native EDR package, vitest and commander all need
// Node 22, and a lockfile written under Node 22 cannot even be installed by an older npm, so every
// npm script goes through here. Plain JavaScript that runs on Node 18+, no dependencies.
//
//   node scripts/node22.mjs <command> [args...]   run the command with Node 22 first on PATH
//   node scripts/node22.mjs --bin-dir             print the folder holding a suitable `node`
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const MIN = [22, 13, 0];

function satisfies(version) {
  const parts = version.replace(/^v/, "").split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    if ((parts[i] ?? 0) > MIN[i]) return true;
    if ((parts[i] ?? 0) < MIN[i]) return false;
  }
  return true;
}

export function cacheDir() {
  if (process.env.PROVMARK_NODE_CACHE) return process.env.PROVMARK_NODE_CACHE;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "provmark", "node22");
}

function nodeVersionAt(binDir) {
  const node = join(binDir, process.platform === "win32" ? "node.exe" : "node");
  if (!existsSync(node)) return undefined;
  const r = spawnSync(node, ["--version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Folder whose `node` is >= 22.13: the running one, or the cached npm `node@22` (installed on demand). */
export function ensureNode22BinDir({ quiet = false } = {}) {
  if (satisfies(process.version)) return dirname(process.execPath);
  const dir = cacheDir();
  const binDir = join(dir, "node_modules", ".bin");
  const cached = nodeVersionAt(binDir);
  if (cached && satisfies(cached)) return binDir;
  if (!quiet) {
    process.stderr.write(
      `provmark: Node ${process.version} is older than ${MIN.join(".")}; installing node@22 from the npm registry into ${dir}\n`,
    );
  }
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, "package.json"))) {
    writeFileSync(join(dir, "package.json"), '{"name":"provmark-node22-cache","private":true}\n');
  }
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const r = spawnSync(npm, ["install", "--no-audit", "--no-fund", "--no-save", "--prefix", dir, "node@22"], {
    stdio: ["ignore", quiet ? "ignore" : "inherit", "inherit"],
  });
  const got = nodeVersionAt(binDir);
  if (r.status !== 0 || !got || !satisfies(got)) {
    process.stderr.write(
      `provmark: could not obtain Node >= ${MIN.join(".")} (npm install node@22 into ${dir} failed).\n` +
        "Install Node 22.13 or newer yourself (https://nodejs.org) and try again.\n",
    );
    process.exit(2);
  }
  return binDir;
}

function main(argv) {
  if (argv[0] === "--bin-dir") {
    process.stdout.write(`${ensureNode22BinDir({ quiet: true })}\n`);
    return 0;
  }
  if (argv.length === 0) {
    process.stderr.write("usage: node scripts/node22.mjs <command> [args...] | --bin-dir\n");
    return 2;
  }
  const binDir = ensureNode22BinDir();
  const env = { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ""}` };
  const r = spawnSync(argv[0], argv.slice(1), { stdio: "inherit", env, shell: process.platform === "win32" });
  if (r.error) {
    process.stderr.write(`provmark: could not run ${argv[0]}: ${r.error.message}\n`);
    return 2;
  }
  if (r.signal) process.kill(process.pid, r.signal);
  return r.status ?? 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href)
  process.exit(main(process.argv.slice(2)));
