import { createHash } from "node:crypto";
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyEvidence } from "../../src/detect/evidence-verify.js";
import { tempDir } from "../helpers/fixtures.js";
import { FakeSuspect } from "./helpers/fake-suspect.js";
import { detectToReport, toyRelease } from "./helpers/toy-release.js";

// A hostile report's bodies and numbers are third-party input to `evidence verify`: each odd shape
// must be a coded EVIDENCE_INVALID naming what was wrong, never a crash (INTERNAL).
let server: FakeSuspect;
let honest: string;

beforeAll(async () => {
  const release = await toyRelease();
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

describe("evidence verify: odd request bodies are coded errors naming the body", () => {
  it("the honest report verifies its bodies", async () => {
    const { check } = await verifyEvidence(honest);
    expect(check.checks.find((c) => c.name.startsWith("request/response bodies"))?.ok).toBe(true);
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
    let sha = "";
    const dir = await forged((r, add) => {
      r.suspect.protocol = protocol;
      sha = add(body);
      const q = firstTrigger(r);
      q.requestSha256 = sha;
      q.batchPosition = 0;
    });
    const e = await verifyEvidence(dir).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toMatchObject({ code: "EVIDENCE_INVALID", message: expect.stringContaining(sha.slice(0, 16)) });
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
