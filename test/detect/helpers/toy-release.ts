import { join } from "node:path";
import type { EvidenceReport } from "../../../src/core/detect/evidence.js";
import { buildCertificate, type Certificate } from "../../../src/core/watermark/certificate.js";
import {
  imageParams,
  paramsFromV1,
  type WatermarkKey,
  type WatermarkParamsV1,
} from "../../../src/core/watermark/params.js";
import { deriveTriggers } from "../../../src/core/watermark/triggers.js";
import { type DetectResult, detect } from "../../../src/detect/detect.js";
import { generateKey } from "../../../src/watermark/keygen.js";
import { tempDir } from "../../helpers/fixtures.js";

/**
 * A key and its certificate without training a model: enough for detection runs against a fake
 * suspect, whose evidence (bodies, hashes, chain records) the tests then check and tamper with.
 */
export async function toyRelease(
  over: Partial<WatermarkParamsV1> = {},
  { v1 = false }: { v1?: boolean } = {},
): Promise<{ key: WatermarkKey; certificate: Certificate }> {
  const v1Params: WatermarkParamsV1 = {
    classes: 4,
    inputShape: [3, 3, 1],
    layer: "dense1",
    bits: 8,
    triggers: 12,
    family: "noise",
    stampStrength: 0.3,
    ...over,
  };
  const params = v1 ? paramsFromV1(v1Params) : imageParams(v1Params);
  const key = await generateKey(params);
  const certificate = buildCertificate({
    key,
    triggers: deriveTriggers(key),
    projection: new Float32Array(params.bits * 4),
    message: new Uint8Array(params.bits),
    carrierLength: 4,
    weightsDigest: "ab".repeat(32),
    createdAt: new Date(),
    tool: "provmark-test",
  });
  return { key, certificate };
}

/** A complete detection run against a fake TF Serving suspect (model "m"), with its report written. */
export async function detectToReport(o: {
  key: WatermarkKey;
  certificate: Certificate;
  url: string;
  headers?: Record<string, string>;
  onChain?: EvidenceReport["onChain"];
  reportDir?: string;
}): Promise<DetectResult> {
  const dir = await tempDir("provmark-evidence-");
  return detect({
    key: o.key,
    certificate: o.certificate,
    suspect: { protocol: "tfserving", endpoint: o.url, modelName: "m", headers: o.headers ?? {} },
    runDir: join(dir, "run"),
    subset: 8,
    decoyRatio: 0,
    decoys: { from: null, inputs: [] },
    batchSize: 4,
    retries: 0,
    alpha: 1e-6,
    maxFailureFraction: 0.5,
    ...(o.onChain === undefined ? {} : { onChain: o.onChain }),
    reportDir: o.reportDir ?? join(dir, "report"),
  });
}
