#!/usr/bin/env node
// Entry point. Plain JavaScript so that it runs on any Node: checks the version first (provmark needs
// Node >= 22.19), re-running itself under the pinned Node that `npm run setup` caches when the system
// Node is older, then loads the compiled CLI.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  const { pinnedNodePath } = await import("../scripts/node22.mjs");
  const node = pinnedNodePath();
  if (existsSync(node) && !process.env.PROVMARK_REEXEC) {
    const r = spawnSync(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
      stdio: "inherit",
      env: { ...process.env, PROVMARK_REEXEC: "1" },
    });
    process.exit(r.status ?? 1);
  }
  process.stderr.write(
    `error[USAGE]: provmark needs Node >= 22.19, this is ${process.version}\n` +
      "  hint: run `npm run setup` in the provmark checkout (it caches Node 22 from the npm registry),\n" +
      "        or install Node 22.19+ yourself.\n",
  );
  process.exit(2);
}
const main = new URL("../dist/src/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write("error[INTERNAL]: provmark is not built (dist/ missing)\n  hint: run `npm run build`.\n");
  process.exit(1);
}
await import(main.href);
