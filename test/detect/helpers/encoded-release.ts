import { join } from "node:path";
import type { ModelIO } from "../../../src/core/input/model-io.js";
import { buildCertificate, type Certificate } from "../../../src/core/watermark/certificate.js";
import { imageParams, type WatermarkKey } from "../../../src/core/watermark/params.js";
import { deriveTriggers } from "../../../src/core/watermark/triggers.js";
import type { WireEncoding } from "../../../src/detect/adapters/types.js";
import { type DetectResult, detect } from "../../../src/detect/detect.js";
import { generateKey } from "../../../src/watermark/keygen.js";
import { tempDir } from "../../helpers/fixtures.js";

/** A v2 key and certificate for a model's own ModelIO (no embedding): enough to query it with triggers. */
export async function releaseFor(io: ModelIO, triggers = 8): Promise<{ key: WatermarkKey; certificate: Certificate }> {
  const base = imageParams({
    classes: io.classes.count,
    inputShape: [1, 1, 1],
    layer: "dense",
    bits: 8,
    triggers,
    family: "noise",
    stampStrength: 0.3,
  });
  const key = await generateKey({ ...base, io, runSize: triggers });
  const certificate = buildCertificate({
    key,
    triggers: deriveTriggers(key),
    projection: new Float32Array(8 * 4),
    message: new Uint8Array(8),
    carrierLength: 4,
    weightsDigest: "ab".repeat(32),
    createdAt: new Date(),
    tool: "provmark-test",
  });
  return { key, certificate };
}

/** One detection run (no decoys), its report written. */
export async function detectWith(
  release: { key: WatermarkKey; certificate: Certificate },
  suspect: { protocol: "tfserving" | "kserve" | "raw"; endpoint: string; modelName?: string; encoding?: WireEncoding },
  batchSize = 4,
): Promise<DetectResult> {
  const dir = await tempDir("provmark-encoded-");
  return detect({
    ...release,
    suspect: { ...suspect, headers: {} },
    runDir: join(dir, "run"),
    subset: 8,
    decoyRatio: 0,
    decoys: { from: null, inputs: [] },
    batchSize,
    retries: 0,
    alpha: 1e-6,
    maxFailureFraction: 0.5,
    reportDir: join(dir, "report"),
  });
}

/** Each trigger row's answer, by trigger index. */
export const answers = (r: DetectResult): Record<number, number | null> =>
  Object.fromEntries(r.report.queries.map((q) => [q.trigger ?? -1, q.got]));
