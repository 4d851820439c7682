import { describe, expect, it } from "vitest";

describe("the library entry point", () => {
  it("exports the documented API", async () => {
    const lib = await import("../src/index.js");
    for (const name of [
      "assertRegistered",
      "checkModel",
      "registerRelease",
      "openLedger",
      "openStore",
      "hashModel",
      "embedWatermark",
      "verifyModel",
      "detect",
      "verifyEvidence",
      "startModelServer",
      "runLab",
      "ProvmarkError",
    ]) {
      expect(typeof (lib as Record<string, unknown>)[name], name).toBe("function");
    }
  });
});
