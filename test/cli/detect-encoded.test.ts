import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageParams, type WatermarkParams } from "../../src/core/watermark/params.js";
import { trainModel } from "../../src/model/train-model.js";
import { type ModelServer, startModelServer } from "../../src/serve/model-server.js";
import { embedWatermark } from "../../src/watermark/embed.js";
import { writeKeyFile } from "../../src/watermark/key-file.js";
import { generateKey } from "../../src/watermark/keygen.js";
import { provmark } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";
import { writeToyIdx } from "../helpers/idx.js";

// Through the CLI: a marked MNIST-style toy model (8×8 gray, pixel/255) behind a real
// `startModelServer` told its preprocessing, queried with encoded images instead of tensors.
const params: WatermarkParams = imageParams({
  classes: 3,
  inputShape: [8, 8, 1],
  layer: "dense1",
  bits: 16,
  triggers: 40,
  family: "noise",
  stampStrength: 0.3,
});
const PASS = "detect-encoded-passphrase";
let dir: string;
let marked: ModelServer;

beforeAll(async () => {
  dir = await tempDir();
  const data = join(dir, "data");
  await import("node:fs/promises").then((fs) => fs.mkdir(data));
  await writeToyIdx(data);
  const dataset = `idx:${data}`;
  await trainModel({ dataset, arch: "mlp", out: join(dir, "base"), seed: 1, epochs: 4, backend: "wasm" });
  const key = await generateKey(params);
  await writeKeyFile(join(dir, "k.key"), key, PASS);
  await embedWatermark({
    model: join(dir, "base"),
    keyPath: "k.key",
    key,
    dataset,
    out: join(dir, "marked"),
    backend: "wasm",
    settings: { maxEpochs: 60 },
  });
  marked = await startModelServer({
    modelDir: join(dir, "marked"),
    port: 0,
    modelName: "suspect",
    backend: "wasm",
    io: { preprocess: "pixel/255" },
  });
}, 600_000);
afterAll(() => marked?.close());

const detect = (report: string, ...extra: string[]) =>
  provmark(
    [
      "--data-dir",
      join(dir, "home"),
      "detect",
      "--model-name",
      "suspect",
      "--key",
      join(dir, "k.key"),
      "--cert",
      join(dir, "marked"),
      "--decoys",
      `idx:${join(dir, "data")}`,
      "--report",
      join(dir, report),
      "--json",
      ...extra,
    ],
    { env: { PROVMARK_PASSPHRASE: PASS } },
  );

const verify = async (report: string) => {
  const r = await provmark(["evidence", "verify", join(dir, report), "--json"]);
  return { code: r.code, checks: JSON.parse(r.stdout).checks as { name: string; status: string }[] };
};

describe("provmark detect --encoding", () => {
  it.each(["tfserving", "kserve"])(
    "png over %s: the tensor run's matches, no warning, evidence VALID",
    async (protocol) => {
      const tensor = await detect(`tensor-${protocol}`, "--endpoint", marked.url, "--protocol", protocol);
      const png = await detect(
        `png-${protocol}`,
        "--endpoint",
        marked.url,
        "--protocol",
        protocol,
        "--encoding",
        "png",
      );
      expect(png.code, png.stdout + png.stderr).toBe(0);
      const t = JSON.parse(tensor.stdout);
      const p = JSON.parse(png.stdout);
      expect(p).toMatchObject({ verdict: "stolen", encoding: "png", warnings: [], matches: t.matches, failures: 0 });
      expect(png.stderr).not.toContain("warning");
      const v = await verify(`png-${protocol}`);
      expect(v.code).toBe(0);
      expect(v.checks.every((c) => c.status === "pass")).toBe(true);
    },
  );

  // Measured: 20 of 20 triggers still matched over JPEG (the tensor run: 20 of 20); gray 8×8 noise
  // comes back within about 3 levels per pixel at quality 90. Keys are random, so allow a few fewer.
  it("jpeg warns (stderr, --json, report); matches held 20 of 20 in our runs", async () => {
    const r = await detect("jpeg", "--endpoint", marked.url, "--encoding", "jpeg");
    const out = JSON.parse(r.stdout);
    expect(r.stderr).toContain("warning: JPEG is lossy");
    expect(out.warnings).toEqual([expect.stringContaining("JPEG is lossy")]);
    const report = JSON.parse(await readFile(out.reportPath, "utf8"));
    expect(report.warnings).toEqual(out.warnings);
    expect(out.matches).toBeGreaterThanOrEqual(17);
    const v = await verify("jpeg");
    expect(v.checks.find((c) => c.name === "lossy request images")?.status).toBe("warn");
    expect(v.checks.find((c) => c.name === "trigger inputs found in the requests")?.status).toBe("pass");
  });

  it("an image encoding the protocol cannot send is a usage error (exit 2)", async () => {
    const r = await detect("local", "--endpoint", join(dir, "marked"), "--protocol", "local", "--encoding", "png");
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toContain("--protocol local runs the model on tensors");
  });
});
