import { join } from "node:path";
import { manifestBytes, type ReleaseManifest } from "../core/release-manifest.js";
import { ProvmarkError } from "../errors.js";
import { type Ledger, type LedgerOptions, openLedger } from "../ledger/open-ledger.js";
import { modelIdOf, type RegistryClient, sameAddress, toBytes32 } from "../ledger/registry-client.js";
import type { StoreSettings } from "../store/open-store.js";
import type { ImportProfileName } from "../store/profiles.js";
import { IMPORT_PROFILES } from "../store/profiles.js";
import { buildManifest, type ManifestInput } from "./build-manifest.js";

export interface RegisterOptions extends ManifestInput {
  ledger: Omit<LedgerOptions, "access">;
  store: StoreSettings;
  profile?: ImportProfileName;
  /** Also add the model's files to IPFS (their CIDs go in the manifest). */
  upload?: boolean;
  /** With upload: seal each file in an AES-256-GCM envelope under this key first. */
  envelopeKey?: Uint8Array | undefined;
  onStage?: (stage: string) => void;
  /** Owner of the namespace to register in (default: the signer; a maintainer names the owner). */
  owner?: string | null;
}

export interface RegisterResult {
  digest: string;
  weightsDigest: string | null;
  name: string;
  version: string;
  modelId: string;
  /** Owner of the namespace the version went into (its id derives from this address and the name). */
  owner: string;
  parent: string | null;
  certificateHash: string | null;
  manifestCid: string;
  txHash: string;
  blockNumber: number;
  registeredAt: string;
  chainId: string;
  contract: string;
  rpc: string;
  registrant: string;
  /** Present when the model namespace was created by this registration. */
  modelCreatedTx: string | null;
  /** Other namespaces holding the same digest (copies, e.g. a front-runner's): they do not affect this one. */
  alsoRegisteredBy: { owner: string; modelId: string; registeredAt: number }[];
  manifest: ReleaseManifest;
}

/**
 * Release: hash the model, build its manifest, store it (and optionally the files) in IPFS, then put
 * digest, parent, certificate hash and manifest CID on chain. Nothing is recorded as registered
 * unless the registration transaction was mined; IPFS blocks written before a failure are harmless
 * (content-addressed, unreferenced).
 */
export async function registerRelease(o: RegisterOptions): Promise<RegisterResult> {
  o.onStage?.("hashing the model");
  const { manifest } = await buildManifest(o);
  const digest = toBytes32(manifest.model.filesDigest);
  const ledger = await openLedger({ ...o.ledger, access: "write" });
  try {
    const registry = requireRegistry(ledger);
    const signer = await registry.signerAddress();
    const owner = o.owner ?? signer;
    const modelId = modelIdOf(owner, manifest.name);
    await assertNewVersion(registry, modelId, manifest, owner, o.model);
    const manifestCid = await storeManifest(manifest, o);
    o.onStage?.("registering on chain");
    // A maintainer writes into an existing namespace of the owner's; only the owner creates one.
    const created = sameAddress(owner, signer) ? (await registry.ensureModel(manifest.name)).created : null;
    const tx = await registry.register({
      modelId,
      digest,
      parent: manifest.parent ? toBytes32(manifest.parent) : null,
      certificateHash: manifest.certificate ? toBytes32(manifest.certificate.hash) : null,
      manifestCid,
    });
    return {
      digest: manifest.model.filesDigest,
      weightsDigest: manifest.model.weightsDigest,
      name: manifest.name,
      version: manifest.version,
      modelId,
      owner,
      parent: manifest.parent,
      certificateHash: manifest.certificate?.hash ?? null,
      manifestCid,
      txHash: tx.txHash,
      blockNumber: tx.blockNumber,
      registeredAt: new Date(tx.timestamp * 1000).toISOString(),
      chainId: ledger.chainId.toString(),
      contract: registry.address,
      rpc: ledger.rpc,
      registrant: ledger.signer ?? "",
      modelCreatedTx: created?.txHash ?? null,
      alsoRegisteredBy: (await registry.registrations(digest))
        .filter((r) => r.modelId !== modelId)
        .map((r) => ({ owner: r.owner, modelId: r.modelId, registeredAt: r.registeredAt })),
      manifest,
    };
  } finally {
    await ledger.close();
  }
}

/** Stores the manifest (and with `upload` the model's files) in IPFS; returns the manifest's CID. */
export async function storeManifest(
  manifest: ReleaseManifest,
  o: Pick<RegisterOptions, "model" | "store" | "profile" | "upload" | "envelopeKey" | "onStage">,
): Promise<string> {
  o.onStage?.("storing the manifest in IPFS");
  const { openStore } = await import("../store/open-store.js");
  const store = await openStore(o.store);
  try {
    const profile = o.profile ?? "unixfs-v1-2025";
    manifest.ipfs.importSettings = { ...IMPORT_PROFILES[profile] };
    if (o.upload) {
      for (const f of manifest.model.files) {
        o.onStage?.(`adding ${f.path} to IPFS`);
        const added = await store.addFile(join(o.model, f.path), {
          profile,
          ...(o.envelopeKey ? { envelopeKey: o.envelopeKey } : {}),
        });
        manifest.ipfs.artifacts.push({ path: f.path, cid: added.cid, size: added.size, encrypted: !!o.envelopeKey });
      }
    }
    return (await store.addBytes(manifestBytes(manifest), { profile })).cid;
  } finally {
    await store.close();
  }
}

/** Refuses, before anything is written, a digest the owner's namespace holds already. */
export async function assertNewVersion(
  registry: RegistryClient,
  modelId: string,
  manifest: ReleaseManifest,
  owner: string,
  model: string,
): Promise<void> {
  const existing = await registry.version(modelId, toBytes32(manifest.model.filesDigest));
  if (existing) {
    throw new ProvmarkError(
      "REGISTRY_DUPLICATE_DIGEST",
      `${model} (digest ${manifest.model.filesDigest}) is registered already in ${owner}'s model ${manifest.name}, since ${new Date(existing.registeredAt * 1000).toISOString()}`,
      { subject: model, hints: [`\`provmark history ${manifest.model.filesDigest}\` shows the record.`] },
    );
  }
}

export function requireRegistry(ledger: Ledger) {
  if (!ledger.registry) {
    throw new ProvmarkError("REGISTRY_NOT_DEPLOYED", `no registry on ${ledger.rpc} yet`, {
      hints: ["Register a model first (the embedded chain deploys its registry on first write)."],
    });
  }
  return ledger.registry;
}
