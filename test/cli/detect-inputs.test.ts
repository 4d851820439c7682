import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Certificate } from "../../src/core/watermark/certificate.js";
import { writeKeyFile } from "../../src/watermark/key-file.js";
import { FakeSuspect } from "../detect/helpers/fake-suspect.js";
import { toyRelease } from "../detect/helpers/toy-release.js";
import { provmark } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";

// Third-party files handed to `detect` (an API config, a certificate): bad ones are coded usage
// errors naming the file, never INTERNAL, and never only after the suspect was queried.
const PASS = "detect-inputs-passphrase";
let dir: string;
let certificate: Certificate;
let server: FakeSuspect;

beforeAll(async () => {
  dir = await tempDir();
  const release = await toyRelease({}, { v1: true });
  certificate = release.certificate;
  await writeKeyFile(join(dir, "k.key"), release.key, PASS);
  await writeFile(join(dir, "cert.json"), JSON.stringify(certificate));
  server = await FakeSuspect.start({ protocol: "tfserving", classes: 4, shape: [3, 3, 1] });
});
afterAll(() => server?.close());

const detect = (...args: string[]) =>
  provmark(
    [
      "--data-dir",
      join(dir, "home"),
      "detect",
      "--key",
      join(dir, "k.key"),
      "--decoys",
      "none",
      "--retries",
      "0",
      "--json",
      ...args,
    ],
    { env: { PROVMARK_PASSPHRASE: PASS } },
  );

describe("detect: bad third-party files are coded errors naming them", () => {
  it("a --config file that is not JSON (protocol json)", async () => {
    const config = join(dir, "api.json");
    await writeFile(config, '{"request": {"image": "$INPUT"}, "response": ');
    const r = await detect(
      "--endpoint",
      server.url,
      "--protocol",
      "json",
      "--config",
      config,
      "--cert",
      join(dir, "cert.json"),
    );
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const { error } = JSON.parse(r.stdout);
    expect(error).toMatchObject({ code: "USAGE", subject: config });
    expect(error.message).toContain("not valid JSON");
  });

  it.each([
    ["noise", 1.5],
    ["noise", -0.1],
  ])("a certificate whose nullMatchProbability.%s is %s: refused before any query", async (family, p) => {
    const bad = join(dir, `cert-${family}-${p}.json`);
    const doc = structuredClone(certificate);
    if (doc.schema !== "provmark/certificate/v1") throw new Error("a v1 certificate carries the probabilities");
    doc.triggerSet.nullMatchProbability[family as "noise"] = p;
    await writeFile(bad, JSON.stringify(doc));
    const before = server.requests.length;
    const r = await detect(
      "--endpoint",
      server.url,
      "--model-name",
      "m",
      "--cert",
      bad,
      "--run",
      join(dir, `run-${p}`),
    );
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const { error } = JSON.parse(r.stdout);
    expect(error).toMatchObject({ code: "USAGE", subject: bad });
    expect(error.message).toContain(`nullMatchProbability.${family}`);
    expect(server.requests.length).toBe(before);
  });
});
