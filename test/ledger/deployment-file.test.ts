import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { provmark } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";

// The deployment record is a file anyone can edit or a crash can damage; every command that reads
// it names it in a coded error, and doctor reports it instead of crashing.
const CORRUPT = ["{ not json", "null", "[]", '{"format":"provmark.deployment/v1","address":5}'];

async function homeWith(text: string): Promise<{ home: string; file: string }> {
  const home = await tempDir();
  const file = join(home, "chain", "deployments", "31337.json");
  await mkdir(join(home, "chain", "deployments"), { recursive: true });
  await writeFile(file, text);
  return { home, file };
}

describe("a corrupt deployment record", () => {
  it.each(CORRUPT)("doctor reports %s as a coded problem naming the file (exit 0)", async (text) => {
    const { home, file } = await homeWith(text);
    const r = await provmark(["doctor", "--json"], { env: { PROVMARK_HOME: home, PROVMARK_RPC_URL: "" } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const chain = JSON.parse(r.stdout).chain;
    expect(chain.registry).toBeNull();
    expect(chain.registryError).toMatchObject({ code: "REGISTRY_NOT_DEPLOYED", subject: file });
  });

  it("history on the embedded chain names the file (REGISTRY_NOT_DEPLOYED, exit 2)", async () => {
    const { home, file } = await homeWith("{ not json");
    const r = await provmark(["history", "toy", "--json"], { env: { PROVMARK_HOME: home, PROVMARK_RPC_URL: "" } });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: "REGISTRY_NOT_DEPLOYED", subject: file });
  });
});
