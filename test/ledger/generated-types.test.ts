import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { renderContractTypes } from "../../scripts/contract-types/render.js";

describe("src/ledger/generated/provenance-registry.ts", () => {
  it("is what the generator makes from the current build artifact", async () => {
    const artifact = JSON.parse(
      await readFile(
        new URL("../../artifacts/contracts/ProvenanceRegistry.sol/ProvenanceRegistry.json", import.meta.url),
        "utf8",
      ),
    );
    const current = await readFile(
      new URL("../../src/ledger/generated/provenance-registry.ts", import.meta.url),
      "utf8",
    );
    expect(current, "stale: run npx tsx scripts/gen-contract-types.ts").toBe(renderContractTypes(artifact));
  });
});
