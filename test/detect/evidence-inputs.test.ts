import { createHash } from "node:crypto";
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyEvidence } from "../../src/detect/evidence-verify.js";
import { tempDir } from "../helpers/fixtures.js";
import { FakeSuspect } from "./helpers/fake-suspect.js";
import { detectToReport, toyRelease } from "./helpers/toy-release.js";

// A hostile report's bodies and numbers are third-party input to `evidence verify`: an odd body
// makes the check that reads it fail, naming the query; an impossible number is a coded
// EVIDENCE_INVALID naming the field; never a crash (INTERNAL). The v1 certificate is the one with
// probability fields.
let server: FakeSuspect;
let honest: string;

beforeAll(async () => {
  const release = await toyRelease({}, { v1: true });
  server = await FakeSuspect.start({ protocol: "tfserving", classes: 4, shape: [3, 3, 1] });
  const r = await detectToReport({ ...release, url: server.url });
  honest = r.reportDir;
});
afterAll(() => server?.close());

type Report = {
  suspect: { protocol: string };
  certificate: { document: { triggerSet: { nullMatchProbability: Record<string, number> } } };
  queries: { kind: string; requestSha256: string | null; batchPosition: number | null }[];
};

/** A copy of the honest report with `edit` applied to report.json (and bodies added). */
async function forged(edit: (r: Report, addBody: (text: string) => string) => void): Promise<string> {
  const dir = join(await tempDir(), "report");
  await cp(honest, dir, { recursive: true });
  const r = JSON.parse(await readFile(join(dir, "report.json"), "utf8")) as Report;
  const bodies: [string, string][] = [];
  edit(r, (text) => {
    const sha = createHash("sha256").update(text).digest("hex");
    bodies.push([sha, text]);
    return sha;
  });
  for (const [sha, text] of bodies) await writeFile(join(dir, "bodies", sha), text);
  await writeFile(join(dir, "report.json"), JSON.stringify(r));
  return dir;
}

const firstTrigger = (r: Report) =>
  r.queries.find((q) => q.kind === "trigger" && q.requestSha256 !== null) as Report["queries"][number];

describe("evidence verify: odd request bodies fail the input check, naming the query", () => {
  it("the honest report verifies its bodies", async () => {
    const { check } = await verifyEvidence(honest);
    expect(check.checks.find((c) => c.name === "bodies match their SHA-256")?.status).toBe("pass");
    expect(check.checks.find((c) => c.name === "trigger inputs found in the requests")?.status).toBe("pass");
  });

  it.each([
    ["tfserving", "null"],
    ["tfserving", '{"instances":[5]}'],
    ["tfserving", '{"instances":[null]}'],
    ["tfserving", '{"instances":[{"a":1}]}'],
    ["tfserving", '{"instances":[["x"]]}'],
    ["tfserving", '{"instances":[]}'],
    ["tfserving", "not json"],
    ["kserve", "null"],
    ["kserve", '{"inputs":[{"shape":"ab","data":[1]}]}'],
    ["kserve", '{"inputs":[{"shape":[1,9],"data":5}]}'],
    ["kserve", '{"inputs":[{"shape":[1,9],"data":[1,2]}]}'],
  ])("%s request body %s", async (protocol, body) => {
    let id = "";
    const dir = await forged((r, add) => {
      r.suspect.protocol = protocol;
      const q = firstTrigger(r);
      q.requestSha256 = add(body);
      q.batchPosition = 0;
      id = (q as unknown as { id: string }).id;
    });
    const { check } = await verifyEvidence(dir);
    expect(check.ok).toBe(false);
    const input = check.checks.find((c) => c.name === "trigger inputs found in the requests");
    expect(input?.status).toBe("fail");
    expect(input?.detail).toContain(`${id}: the ${protocol} request cannot be read back`);
  });
});

describe("evidence verify: probabilities outside [0, 1] are coded errors naming the field", () => {
  it.each([
    ["noise", 1.5],
    ["stamp", -0.25],
  ])("nullMatchProbability.%s = %s", async (family, p) => {
    const dir = await forged((r) => {
      r.certificate.document.triggerSet.nullMatchProbability[family] = p;
    });
    await expect(verifyEvidence(dir)).rejects.toMatchObject({
      code: "EVIDENCE_INVALID",
      message: expect.stringContaining(`nullMatchProbability.${family}`),
    });
  });

  it("an infinite probability (1e999 in the JSON)", async () => {
    const dir = await forged(() => {});
    const text = await readFile(join(dir, "report.json"), "utf8");
    await writeFile(join(dir, "report.json"), text.replace(/"noise":[0-9.e-]+/, '"noise":1e999'));
    const e = (await verifyEvidence(dir).catch((err: unknown) => err)) as {
      code?: string;
      message: string;
      hints: string[];
    };
    expect(e.code).toBe("EVIDENCE_INVALID");
    expect([e.message, ...e.hints].join("\n")).toContain("nullMatchProbability.noise");
  });
});
