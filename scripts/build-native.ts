/**
 * Compiles the AssemblyScript kernels in native/assembly (see native/README.md) for a shared and a
 * plain imported memory and writes src/model/wasm-kernels/generated/native-kernels.ts.
 * `--check` compares instead of writing and exits 1 when the file is stale.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compileNative, renderNative } from "./native/compile.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const target = join(root, "src/model/wasm-kernels/generated/native-kernels.ts");
const text = renderNative(await compileNative(join(root, "native/assembly/index.ts")));
if (process.argv.includes("--check")) {
  const current = readFileSync(target, "utf8");
  if (current !== text) {
    process.stderr.write(`${target} is stale: run npx tsx scripts/build-native.ts\n`);
    process.exit(1);
  }
  process.stdout.write("native kernels up to date\n");
} else {
  writeFileSync(`${target}.tmp`, text);
  renameSync(`${target}.tmp`, target);
  process.stdout.write(`wrote ${target}\n`);
}
