import { settings } from "../config.js";
import { parseManifest, type ReleaseManifest } from "../core/release-manifest.js";
import { ProvmarkError } from "../errors.js";
import { type LedgerOptions, openLedger } from "../ledger/open-ledger.js";
import { sameAddress, toBytes32, type VersionRecord } from "../ledger/registry-client.js";
import { hashModel } from "../model/hash-model.js";
import type { StoreSettings } from "../store/open-store.js";

export type CheckStatus = "registered" | "unregistered" | "revoked";

export interface CheckResult {
  status: CheckStatus;
  /** Files digest of the directory as it is now. */
  digest: string;
  weightsDigest: string | null;
  record: VersionRecord | null;
  /** The owner the record was checked against; null: none was given, `record` is the oldest registration. */
  expectedOwner: string | null;
  /** The model name or id the record was checked against (null: any of the owner's namespaces). */
  expectedModel: string | null;
  /** Registrations of the same digest in other namespaces (copies by anyone; never trusted). */
  others: VersionRecord[];
  /** The version and its ancestors, newest first (empty when unregistered). */
  lineage: VersionRecord[];
  chainId: string;
  contract: string | null;
  rpc: string;
  /** With `manifestFrom`: the registered manifest, fetched from IPFS and checked against the chain. */
  manifest: ReleaseManifest | null;
}

/** Whose release, under which model, a check accepts. */
export interface ExpectedRelease {
  /** The namespace's current owner; null: anyone (unchecked). */
  owner: string | null;
  /** The model name the owner released it under (any namespace of that name the owner holds). */
  name?: string | undefined;
  /** The namespace id (`modelIdOf(creator, name)`). */
  modelId?: string | undefined;
}

/**
 * Hashes `dir` and looks its files digest up in the registry: in the namespaces owned by
 * `expectedOwner`, else (unchecked) the oldest registration anywhere. With `manifestFrom`, also fetches
 * the version's manifest from IPFS and checks that it names this digest, parent and certificate hash.
 */
export async function checkModel(
  dir: string,
  ledgerOptions: Omit<LedgerOptions, "access">,
  manifestFrom?: StoreSettings,
  expected: string | null | ExpectedRelease = null,
): Promise<CheckResult> {
  const want: ExpectedRelease = typeof expected === "string" || expected === null ? { owner: expected } : expected;
  const expectedOwner = want.owner;
  const hash = await hashModel(dir);
  const ledger = await openLedger({ ...ledgerOptions, access: "read" });
  try {
    const digest = toBytes32(hash.filesDigest);
    const all = ledger.registry ? await ledger.registry.registrations(digest) : [];
    // a namespace transferred to the owner keeps its creator's id: match names by ModelCreated, not modelIdOf
    const named =
      want.name !== undefined && ledger.registry
        ? new Set((await ledger.registry.modelsNamed(want.name)).map((m) => m.modelId.toLowerCase()))
        : null;
    const matches = (r: VersionRecord) =>
      (expectedOwner === null || sameAddress(r.owner, expectedOwner)) &&
      (named === null || named.has(r.modelId.toLowerCase())) &&
      (want.modelId === undefined || r.modelId.toLowerCase() === want.modelId.toLowerCase());
    const chosen = all.find(matches);
    const lineage = chosen && ledger.registry ? await ledger.registry.lineage(chosen.modelId, digest) : [];
    const record = lineage[0] ?? null;
    const manifest = record && manifestFrom ? await fetchManifest(record, manifestFrom) : null;
    return {
      status: record === null ? "unregistered" : record.revokedAt !== null ? "revoked" : "registered",
      digest: hash.filesDigest,
      weightsDigest: hash.weightsDigest,
      record,
      expectedOwner,
      expectedModel: want.name ?? want.modelId ?? null,
      others: all.filter((r) => r.modelId !== record?.modelId),
      lineage,
      chainId: ledger.chainId.toString(),
      contract: ledger.registry?.address ?? null,
      rpc: ledger.rpc,
      manifest,
    };
  } finally {
    await ledger.close();
  }
}

async function fetchManifest(record: VersionRecord, from: StoreSettings): Promise<ReleaseManifest> {
  const { openStore } = await import("../store/open-store.js");
  const store = await openStore(from);
  let bytes: Uint8Array;
  try {
    bytes = await store.cat(record.manifestCid, { maxBytes: 64 * 1024 * 1024 });
  } finally {
    await store.close();
  }
  const parsed = parseManifest(bytes);
  if (!parsed.ok) {
    throw new ProvmarkError("MANIFEST_INVALID", `the manifest at ${record.manifestCid} is not a release manifest`, {
      subject: record.manifestCid,
      hints: parsed.problems.slice(0, 5),
    });
  }
  const m = parsed.manifest;
  const mismatches = [
    `0x${m.model.filesDigest}` === record.digest ? null : `digest ${m.model.filesDigest}`,
    (m.parent ? `0x${m.parent}` : null) === record.parent ? null : `parent ${m.parent}`,
    (m.certificate ? `0x${m.certificate.hash}` : null) === record.certificateHash
      ? null
      : `certificate hash ${m.certificate?.hash ?? null}`,
  ].filter((x) => x !== null);
  if (mismatches.length) {
    throw new ProvmarkError(
      "MANIFEST_INVALID",
      `the manifest at ${record.manifestCid} disagrees with the on-chain record: ${mismatches.join(", ")}`,
      { subject: record.manifestCid },
    );
  }
  return m;
}

export interface AssertRegisteredOptions {
  /** Any EVM JSON-RPC URL; default PROVMARK_RPC_URL, else the embedded chain in the data dir. */
  rpcUrl?: string;
  /** Default: PROVMARK_HOME or ~/.provmark. */
  dataDir?: string;
  /** Registry address; default PROVMARK_REGISTRY or the recorded deployment. */
  registry?: string;
  /** Accept a revoked version (default false: revoked models are refused). */
  allowRevoked?: boolean;
  /**
   * The address whose release this must be (default PROVMARK_OWNER). Without one, any account's
   * registration of these files passes, and a warning says so: anyone can register a copy.
   */
  owner?: string;
  /** The model name it must be released under (with `owner`: this owner's model of that name). */
  model?: string;
  /** The model namespace id it must be registered in (0x, 32 bytes; see `modelIdOf`). */
  modelId?: string;
  /**
   * Refuse (OWNER_REQUIRED) instead of warning when no owner is given; default: PROVMARK_REQUIRE_OWNER=1.
   * Set it in production, where a copy registered by anyone must never pass.
   */
  requireOwner?: boolean;
}

/**
 * Runtime guard: resolves with the on-chain record when `dir` is a registered, unrevoked release, and
 * throws MODEL_UNREGISTERED or MODEL_REVOKED otherwise, so an application can refuse to load it.
 *
 * @example
 * await assertRegistered("./models/classifier", { owner: "0xPublisherAddress" });
 * const model = await tf.loadLayersModel("file://./models/classifier/model.json");
 */
export async function assertRegistered(dir: string, options: AssertRegisteredOptions = {}): Promise<VersionRecord> {
  const s = settings(options.dataDir ? { dataDir: options.dataDir } : {});
  const registry = options.registry ?? process.env.PROVMARK_REGISTRY;
  const owner = options.owner ?? (process.env.PROVMARK_OWNER || null);
  if (owner === null && (options.requireOwner ?? requireOwnerFromEnv())) throw ownerRequired(dir);
  if (options.modelId !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(options.modelId)) {
    throw new ProvmarkError("USAGE", `modelId must be a 0x-prefixed 32-byte hex id, got ${options.modelId}`, {
      subject: "modelId",
    });
  }
  const result = await checkModel(
    dir,
    { dataDir: s.dataDir, rpcUrl: options.rpcUrl ?? s.chain.rpcUrl, ...(registry ? { registry } : {}) },
    undefined,
    { owner, name: options.model, modelId: options.modelId },
  );
  if (result.record === null) {
    const byOthers = result.others.map((r) => r.owner).join(", ");
    const under = result.expectedModel === null ? "" : ` under model ${result.expectedModel}`;
    throw new ProvmarkError(
      "MODEL_UNREGISTERED",
      owner !== null && byOthers
        ? `${dir} (files digest ${result.digest}) is not registered by ${owner}${under} on ${result.rpc}, only by ${byOthers}`
        : `${dir} (files digest ${result.digest}) is not a registered release${owner === null ? "" : ` of ${owner}`}${under} on ${result.rpc}`,
      {
        subject: dir,
        hints: [
          "Its files differ from every registered version: it was modified, or never released.",
          "Release it with `provmark register --model <dir>`.",
        ],
      },
    );
  }
  if (owner === null) {
    process.emitWarning(`${dir}: registered by ${result.record.owner} — not checked against an expected owner`, {
      code: "PROVMARK_OWNER_UNCHECKED",
      detail: "Pass { owner } (or set PROVMARK_OWNER): anyone can register a copy of a release under their own name.",
    });
  }
  if (result.record.revokedAt !== null && !options.allowRevoked) {
    throw new ProvmarkError(
      "MODEL_REVOKED",
      `${dir} was revoked at ${new Date(result.record.revokedAt * 1000).toISOString()}: ${result.record.revocationReason ?? ""}`,
      { subject: dir },
    );
  }
  return result.record;
}

/** PROVMARK_REQUIRE_OWNER=1 (or true/yes): a check without an expected owner is an error. */
export function requireOwnerFromEnv(): boolean {
  return /^(1|true|yes)$/i.test(process.env.PROVMARK_REQUIRE_OWNER ?? "");
}

export function ownerRequired(dir: string): ProvmarkError {
  return new ProvmarkError(
    "OWNER_REQUIRED",
    `checking ${dir} needs the expected owner: owner checks are required here`,
    {
      subject: dir,
      hints: [
        "Pass the publisher's address (--owner <address>, { owner }, or PROVMARK_OWNER), taken from a channel an attacker does not control.",
        "Anyone can register a copy of a release under their own account, so an unchecked lookup proves nothing.",
      ],
    },
  );
}

/**
 * A verified model-signing signature against the release it claims to be: the manifest's recorded
 * root digest (when it has one; older manifests do not) must be the signature's subject digest.
 * Returns whether the manifest recorded it.
 */
export function assertSignatureMatchesManifest(
  signatureRootDigest: string,
  manifest: ReleaseManifest | null,
  signaturePath: string,
): boolean | null {
  const recorded = manifest?.model.modelSigningDigest;
  if (recorded === undefined) return null;
  if (recorded !== signatureRootDigest) {
    throw new ProvmarkError(
      "SIGNATURE_DIGEST_MISMATCH",
      `${signaturePath} signs root digest ${signatureRootDigest}, but the registered manifest records ${recorded}`,
      {
        subject: signaturePath,
        hints: [
          "The signature ignores other paths than the release did, or signs another version: re-sign the released files.",
        ],
      },
    );
  }
  return true;
}
