#!/usr/bin/env node
import { outOfSyncMessage, parseCiRefusal, runNpm } from "./lockfile.mjs";
// The lockfile guard, run first by `npm test` and by .ci/run: `npm ci --dry-run --ignore-scripts`
// (about 2 s, nothing written) under the pinned npm, failing early with the command that fixes it.
// The registry changes under a committed lockfile (in Dec 2026 it began serving other platforms'
// optional builds and `npm ci` started refusing lockfiles without them), so this asks npm itself
// rather than what happens to be in node_modules.
import { PINNED } from "./node22.mjs";

const npmVersion = runNpm(["--version"]).output.trim();
if (npmVersion !== PINNED.npm && process.env.PROVMARK_NODE !== "system") {
  process.stderr.write(
    `lockfile: this is npm ${npmVersion}, the project pins npm ${PINNED.npm}; run through \`node scripts/node22.mjs\` (every npm script does).\n`,
  );
  process.exit(1);
}
const r = runNpm(["ci", "--dry-run", "--ignore-scripts", "--no-audit", "--no-fund"]);
if (r.status === 0) {
  process.stdout.write(
    `lockfile: package-lock.json is in sync (npm ${npmVersion} ci --dry-run, ${r.seconds.toFixed(1)} s)\n`,
  );
  process.exit(0);
}
const refusal = parseCiRefusal(r.output);
if (refusal.outOfSync) {
  process.stderr.write(outOfSyncMessage(refusal, { prefix: "lockfile" }));
} else {
  const tail = r.output
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith("npm warn"))
    .slice(-15);
  process.stderr.write(
    `lockfile: \`npm ci --dry-run\` failed for another reason (registry unreachable?):\n${tail.join("\n")}\n`,
  );
}
process.exit(1);
