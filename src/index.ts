/**
 * provmark's library API. Heavy dependencies (TensorFlow.js, Hardhat's EVM, Helia) load lazily, on
 * first use, so importing this module is cheap.
 */

export { type EvidenceReport, evidenceSchema } from "./core/detect/evidence.js";
export { parseManifest, type ReleaseManifest, releaseManifestSchema } from "./core/release-manifest.js";
export { type Certificate, certificateSchema } from "./core/watermark/certificate.js";
export { type DetectRequest, type DetectResult, detect } from "./detect/detect.js";
export { verifyEvidence } from "./detect/evidence-verify.js";
export { type ErrorCode, ErrorCodes, ExitCode, isProvmarkError, ProvmarkError } from "./errors.js";
export { type ExtractOptions, type ExtractResult, extractSurrogate } from "./lab/extract.js";
export { runNullBank } from "./lab/null-bank.js";
export { type LabRequest, type LabResult, runLab } from "./lab/run-lab.js";
export { type Ledger, type LedgerOptions, openLedger } from "./ledger/open-ledger.js";
export { modelIdOf, RegistryClient, type VersionRecord } from "./ledger/registry-client.js";
export { type HashResult, hashModel } from "./model/hash-model.js";
export { anchorManifests, buildBatch } from "./release/batch-anchor.js";
export { buildManifest } from "./release/build-manifest.js";
export {
  type AssertRegisteredOptions,
  assertRegistered,
  type CheckResult,
  checkModel,
} from "./release/check-model.js";
export { type RegisterOptions, type RegisterResult, registerRelease } from "./release/register-release.js";
export { startModelServer } from "./serve/model-server.js";
export { openStore } from "./store/open-store.js";
export { embedWatermark } from "./watermark/embed.js";
export { verifyModel } from "./watermark/verify.js";
