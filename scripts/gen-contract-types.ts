/**
 * Generates src/ledger/generated/provenance-registry.ts from the Hardhat build artifact: the ABI (as
 * const), the creation bytecode and a typed view of the contract for ethers v6. Run after
 * `hardhat build`: `tsx scripts/gen-contract-types.ts`; a test fails when the file is stale.
 */
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { renderContractTypes } from "./contract-types/render.js";

const root = new URL("../", import.meta.url);
const artifactPath = new URL("artifacts/contracts/ProvenanceRegistry.sol/ProvenanceRegistry.json", root);
const outPath = new URL("src/ledger/generated/provenance-registry.ts", root);

const artifact = JSON.parse(await readFile(artifactPath, "utf8"));
const check = process.argv.includes("--check");
const text = renderContractTypes(artifact);
if (check) {
  const current = await readFile(outPath, "utf8").catch(() => "");
  if (current !== text) {
    process.stderr.write(`${fileURLToPath(outPath)} is stale: run npx tsx scripts/gen-contract-types.ts\n`);
    process.exit(1);
  }
} else {
  await writeFile(outPath, text);
  process.stdout.write(`wrote ${fileURLToPath(outPath)}\n`);
}
