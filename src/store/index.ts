export {
  type AddFileOptions,
  type AddOptions,
  type AddResult,
  type ArtifactStore,
  type CatOptions,
  DEFAULT_CAT_TIMEOUT_MS,
  parseCid,
} from "./artifact-store.js";
export type { ByteSource } from "./byte-streams.js";
export { envelopeKeyId, isEnvelope, openEnvelope, openStream, sealEnvelope, sealStream } from "./envelope.js";
export { localCid } from "./local-cid.js";
export { openStore, type StoreSettings } from "./open-store.js";
export {
  DEFAULT_IMPORT_PROFILE,
  IMPORT_PROFILES,
  type ImportProfile,
  type ImportProfileName,
  importerOptions,
  importProfile,
  type ProfileImporterOptions,
} from "./profiles.js";
