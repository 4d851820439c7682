#!/usr/bin/env node
// `npm run setup`: installs exactly what package-lock.json pins, under the pinned Node and npm.
//
// `npm ci` first. The lockfile lists every platform's optional native builds, so `npm ci` accepts it
// whether or not the registry serves them (it skips other platforms' builds without fetching them).
// If the registry has since started serving optional builds the lockfile does not list (what broke
// fresh clones in Dec 2026), `npm ci` refuses. Only then, and only when every package it says is
// missing is an optional dependency, this installs with `npm install --no-save` from the same
// lockfile, and checks afterwards that the lockfile is byte-identical and that the tree on disk is
// exactly the locked one (no missing build landed, no version moved). It never changes the committed
// lockfile, and it says loudly that the lockfile needs regenerating (the guard in `npm test` fails
// until it is).
import { readFileSync, writeFileSync } from "node:fs";
import { installedTreeDifferences, optionalNames, outOfSyncMessage, parseCiRefusal, runNpm } from "./lockfile.mjs";

const say = (line) => process.stdout.write(`install: ${line}\n`);
const die = (text) => {
  process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
  process.exit(1);
};
const shown = (output) =>
  output
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith("npm warn"))
    .join("\n");

say(
  `npm ci (npm ${runNpm(["--version"]).output.trim()}, node ${process.version}); a fresh install takes about a minute`,
);
const ci = runNpm(["ci", "--no-audit", "--no-fund"]);
if (ci.status === 0) {
  process.stdout.write(`${shown(ci.output)}\n`);
  say(`done in ${ci.seconds.toFixed(0)} s`);
  process.exit(0);
}
const refusal = parseCiRefusal(ci.output);
if (!refusal.outOfSync) die(`install: npm ci failed:\n${shown(ci.output)}`);

const lockBytes = readFileSync("package-lock.json");
const lock = JSON.parse(lockBytes.toString("utf8"));
const optional = optionalNames(lock);
const notOptional = refusal.missing.filter((m) => !optional.has(m.name));
if (refusal.invalid.length > 0 || notOptional.length > 0 || refusal.missing.length === 0) {
  die(outOfSyncMessage(refusal, { prefix: "install" }));
}

say(
  `npm ci refused the lockfile: the registry now serves ${refusal.missing.length} optional build(s) it does not list ` +
    `(${refusal.missing.map((m) => m.name).join(", ")}); installing the locked tree with npm install --no-save instead`,
);
const install = runNpm(["install", "--no-save", "--no-audit", "--no-fund"]);
const after = readFileSync("package-lock.json");
if (!after.equals(lockBytes)) {
  writeFileSync("package-lock.json", lockBytes);
  die("install: npm install changed package-lock.json; restored the committed one. Regenerate it with `npm run lock`.");
}
if (install.status !== 0) die(`install: npm install failed:\n${shown(install.output)}`);
let installed;
try {
  installed = JSON.parse(readFileSync("node_modules/.package-lock.json", "utf8"));
} catch (e) {
  die(`install: cannot read node_modules/.package-lock.json to check the installed tree: ${e.message}`);
}
const problems = installedTreeDifferences(lock, installed);
if (problems.length > 0) {
  die(
    `install: the installed tree differs from package-lock.json:\n  ${problems.join("\n  ")}\nRemove node_modules and regenerate the lockfile with \`npm run lock\`.`,
  );
}
process.stdout.write(`${shown(install.output)}\n`);
say(`installed exactly the locked tree in ${install.seconds.toFixed(0)} s (package-lock.json unchanged)`);
process.stderr.write(
  "install: WARNING: package-lock.json lacks optional entries the registry now serves; `npm test` and CI fail their\n" +
    "         lockfile guard until you run `npm run lock` and commit package-lock.json.\n",
);
