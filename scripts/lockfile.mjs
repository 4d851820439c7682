// What the lockfile guard (check-lockfile.mjs) and the installer (install.mjs) share: running npm,
// reading `npm ci`'s refusal, and checking an installed tree against package-lock.json. Plain
// JavaScript because it runs before node_modules exists; the pure parts are unit-tested.
import { spawnSync } from "node:child_process";

/** The one command that regenerates the lockfile (package.json's `lock` script runs it). */
export const REGENERATE = "npm run lock";
export const REGENERATE_EXPANDED =
  "node scripts/node22.mjs npm install --package-lock-only --ignore-scripts --no-audit --no-fund";

/** Runs npm with the given arguments, capturing everything it prints. */
export function runNpm(args, { cwd = process.cwd() } = {}) {
  const started = Date.now();
  const r = spawnSync(process.platform === "win32" ? "npm.cmd" : "npm", args, {
    cwd,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    shell: process.platform === "win32",
  });
  return {
    status: r.status ?? 1,
    output: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? `\n${r.error.message}` : ""}`,
    seconds: (Date.now() - started) / 1000,
  };
}

/**
 * Reads why `npm ci` refused the lockfile. `missing` are packages npm wants that the lockfile lacks
 * (name and the version npm printed, which is empty when the registry has no such package);
 * `invalid` are locked versions that no longer satisfy package.json.
 */
export function parseCiRefusal(output) {
  const missing = [];
  const invalid = [];
  for (const line of output.split(/\r?\n/)) {
    const text = line.replace(/^npm (error|ERR!)\s*/, "").trim();
    const m = /^Missing: (.+) from lock file$/.exec(text);
    if (m?.[1]) {
      const spec = m[1];
      const at = spec.lastIndexOf("@");
      missing.push(at > 0 ? { name: spec.slice(0, at), version: spec.slice(at + 1) } : { name: spec, version: "" });
    } else if (/^Invalid: lock file's /.test(text)) invalid.push(text);
  }
  const inSyncError = /can only install packages when your package\.json and package-lock\.json/.test(output);
  return { outOfSync: inSyncError || missing.length > 0 || invalid.length > 0, missing, invalid };
}

/** Names the lockfile declares as optional dependencies of some locked package (or of the root). */
export function optionalNames(lock) {
  const names = new Set();
  for (const entry of Object.values(lock.packages ?? {})) {
    for (const name of Object.keys(entry.optionalDependencies ?? {})) names.add(name);
  }
  return names;
}

/**
 * Compares what npm installed (node_modules/.package-lock.json, npm's record of the tree on disk)
 * with the committed lockfile: every installed package must be locked at the same version and
 * integrity. Returns one line per difference; empty means the tree is exactly the locked one.
 */
export function installedTreeDifferences(committed, installed) {
  const locked = committed.packages ?? {};
  const problems = [];
  for (const [path, entry] of Object.entries(installed.packages ?? {})) {
    if (path === "" || entry.link) continue;
    const want = locked[path];
    if (!want) problems.push(`${path}@${entry.version} is installed but not in package-lock.json`);
    else if (want.version !== entry.version)
      problems.push(`${path} is ${entry.version}, package-lock.json pins ${want.version}`);
    else if (want.integrity && entry.integrity && want.integrity !== entry.integrity)
      problems.push(
        `${path}@${entry.version} has integrity ${entry.integrity}, package-lock.json has ${want.integrity}`,
      );
  }
  return problems;
}

/** The message both scripts print when the lockfile is out of sync. */
export function outOfSyncMessage(refusal, { prefix }) {
  const lines = [
    `${prefix}: package-lock.json is out of sync with package.json or the registry; \`npm ci\` refuses it:`,
  ];
  for (const m of refusal.missing) lines.push(`  missing: ${m.name}${m.version ? `@${m.version}` : ""}`);
  for (const i of refusal.invalid) lines.push(`  ${i}`);
  if (refusal.missing.length === 0 && refusal.invalid.length === 0) lines.push("  (npm gave no details)");
  lines.push(
    `${prefix}: regenerate it with \`${REGENERATE}\` (${REGENERATE_EXPANDED}; it keeps every locked version and adds what is missing), then commit package-lock.json.`,
  );
  return `${lines.join("\n")}\n`;
}
