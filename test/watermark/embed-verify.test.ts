import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { certificateSchema } from "../../src/core/watermark/certificate.js";
import { imageParams, type WatermarkParams } from "../../src/core/watermark/params.js";
import { buildRevealV2, checkRevealV2 } from "../../src/core/watermark/reveal-v2.js";
import { deriveTriggers } from "../../src/core/watermark/triggers.js";
import { loadTf } from "../../src/model/backend.js";
import { hashModel } from "../../src/model/hash-model.js";
import { trainModel } from "../../src/model/train-model.js";
import { CERTIFICATE_FILE, type EmbedResult, embedWatermark } from "../../src/watermark/embed.js";
import { generateKey } from "../../src/watermark/keygen.js";
import { verifyModel } from "../../src/watermark/verify.js";
import { tempDir } from "../helpers/fixtures.js";
import { writeToyIdx } from "../helpers/idx.js";

const params: WatermarkParams = imageParams({
  classes: 3,
  inputShape: [8, 8, 1],
  layer: "dense1",
  bits: 32,
  triggers: 30,
  family: "noise",
  stampStrength: 0.3,
});

let dir: string;
let dataset: string;
let embedded: EmbedResult;
const key = await generateKey(params);

beforeAll(async () => {
  dir = await tempDir();
  const data = join(dir, "data");
  await writeFile(join(dir, ".keep"), "");
  await import("node:fs/promises").then((fs) => fs.mkdir(data));
  await writeToyIdx(data);
  dataset = `idx:${data}`;
  for (const [name, seed] of [
    ["base", 1],
    ["other", 2],
    ["ref1", 3],
    ["ref2", 4],
  ] as const) {
    await trainModel({ dataset, arch: "mlp", out: join(dir, name), seed, epochs: 4, backend: "wasm" });
  }
  const { tf } = await loadTf("wasm");
  const before = tf.memory().numTensors;
  embedded = await embedWatermark({
    model: join(dir, "base"),
    keyPath: "test-key",
    key,
    dataset,
    out: join(dir, "marked"),
    backend: "wasm",
    settings: { maxEpochs: 60 },
    now: new Date("2026-01-02T03:04:05Z"),
  });
  expect(tf.memory().numTensors).toBe(before);
});

describe("embed then verify, end to end on a tiny model", () => {
  it("embeds both marks while keeping accuracy", () => {
    expect(embedded.triggerAccuracy).toBe(1);
    expect(embedded.bitErrors).toBe(0);
    expect(embedded.markedAccuracy).toBeGreaterThan((embedded.baselineAccuracy ?? 1) - 0.05);
    expect(embedded.agreement).toBeGreaterThan(0.9);
  });

  it("writes a certificate whose weights digest is the marked model's", async () => {
    const cert = certificateSchema.parse(JSON.parse(await readFile(join(dir, "marked", CERTIFICATE_FILE), "utf8")));
    expect(cert).toEqual(embedded.certificate);
    expect(cert.model.weightsDigest).toBe((await hashModel(join(dir, "marked"))).weightsDigest);
    expect(cert.createdAt).toBe("2026-01-02T03:04:05.000Z");
    expect(cert.schema).toBe("provmark/certificate/v2");
    if (cert.schema !== "provmark/certificate/v2") return;
    expect(cert.model.carrier).toMatchObject({ layer: "dense1", carrierLength: 64 });
    expect(cert.weightWatermark).toEqual({ bits: 32, derivation: "vrf/v2" });
    expect(cert.io.classes.count).toBe(3);
    expect(cert.vrf.publicKey).toMatch(/^[0-9a-f]{192}$/);
    const text = JSON.stringify(cert);
    expect(text).not.toContain(Buffer.from(key.seed).toString("hex"));
  });

  it("finds the marks in the marked model and not in an independently trained one", async () => {
    const { tf } = await loadTf("wasm");
    const before = tf.memory().numTensors;
    const refs = [join(dir, "ref1"), join(dir, "ref2")];
    const marked = await verifyModel({
      model: join(dir, "marked"),
      key,
      keyPath: "k",
      references: refs,
      backend: "wasm",
    });
    expect(marked.verdict).toBe("watermarked");
    expect(marked.trigger).toMatchObject({ matches: 30, n: 30 });
    expect(marked.trigger.log10PValue).toBeCloseTo(30 * Math.log10(1 / 3), 9);
    expect(marked.weight).toMatchObject({ applicable: true, bitErrors: 0, matches: 32 });
    expect(marked.weight.applicable && marked.weight.log10PValue).toBeCloseTo(-32 * Math.log10(2), 9);
    expect(marked.trigger.empiricalPValue).toBeCloseTo(1 / 3, 12);
    const other = await verifyModel({ model: join(dir, "other"), key, keyPath: "k", backend: "wasm" });
    expect(other.verdict).toBe("not-detected");
    expect(other.trigger.matches).toBeLessThan(20);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("reveals triggers that anyone recomputes from the certificate, and catches tampering", () => {
    const cert = embedded.certificate;
    if (cert.schema !== "provmark/certificate/v2") throw new Error("expected a v2 certificate");
    const triggers = deriveTriggers(key);
    const reveal = buildRevealV2(key, cert, triggers, [0, 7, 29], [0], null);
    const ok = checkRevealV2(reveal, cert);
    expect(ok.failures).toEqual([]);
    for (const i of [0, 7, 29]) {
      const t = ok.triggers.get(i);
      expect(t?.label).toBe(triggers[i]?.label);
      expect(Buffer.from(t?.input ?? []).equals(Buffer.from(triggers[i]?.input ?? []))).toBe(true);
    }
    const swapped = structuredClone(reveal);
    const [a, b] = [swapped.triggers[0], swapped.triggers[1]] as [{ proof: string }, { proof: string }];
    [a.proof, b.proof] = [b.proof, a.proof];
    expect(checkRevealV2(swapped, cert).failures).toEqual([
      "trigger 0: the VRF proof does not verify under the certificate's public key",
      "trigger 7: the VRF proof does not verify under the certificate's public key",
    ]);
    const flipped = structuredClone(reveal);
    const p = flipped.triggers[2] as { proof: string };
    p.proof = `${p.proof.slice(0, 10)}${p.proof[10] === "0" ? "1" : "0"}${p.proof.slice(11)}`;
    expect(checkRevealV2(flipped, cert).ok).toBe(false);
    expect(checkRevealV2({ ...reveal, keyCommitment: "0".repeat(64) }, cert).failures).toContain(
      "the reveal names another key commitment",
    );
  });
});
