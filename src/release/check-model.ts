import { settings } from "../config.js";
import { ProvmarkError } from "../errors.js";
import { type LedgerOptions, openLedger } from "../ledger/open-ledger.js";
import { toBytes32, type VersionRecord } from "../ledger/registry-client.js";
import { hashModel } from "../model/hash-model.js";

export type CheckStatus = "registered" | "unregistered" | "revoked";

export interface CheckResult {
  status: CheckStatus;
  /** Files digest of the directory as it is now. */
  digest: string;
  weightsDigest: string | null;
  record: VersionRecord | null;
  /** The version and its ancestors, newest first (empty when unregistered). */
  lineage: VersionRecord[];
  chainId: string;
  contract: string | null;
  rpc: string;
}

/** Hashes `dir` and looks its files digest up in the registry. */
export async function checkModel(dir: string, ledgerOptions: Omit<LedgerOptions, "access">): Promise<CheckResult> {
  const hash = await hashModel(dir);
  const ledger = await openLedger({ ...ledgerOptions, access: "read" });
  try {
    const digest = toBytes32(hash.filesDigest);
    const lineage = ledger.registry ? await ledger.registry.lineage(digest) : [];
    const record = lineage[0] ?? null;
    return {
      status: record === null ? "unregistered" : record.revokedAt !== null ? "revoked" : "registered",
      digest: hash.filesDigest,
      weightsDigest: hash.weightsDigest,
      record,
      lineage,
      chainId: ledger.chainId.toString(),
      contract: ledger.registry?.address ?? null,
      rpc: ledger.rpc,
    };
  } finally {
    await ledger.close();
  }
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
}

/**
 * Runtime guard: resolves with the on-chain record when `dir` is a registered, unrevoked release, and
 * throws MODEL_UNREGISTERED or MODEL_REVOKED otherwise, so an application can refuse to load it.
 *
 * @example
 * await assertRegistered("./models/classifier");
 * const model = await tf.loadLayersModel("file://./models/classifier/model.json");
 */
export async function assertRegistered(dir: string, options: AssertRegisteredOptions = {}): Promise<VersionRecord> {
  const s = settings(options.dataDir ? { dataDir: options.dataDir } : {});
  const registry = options.registry ?? process.env.PROVMARK_REGISTRY;
  const result = await checkModel(dir, {
    dataDir: s.dataDir,
    rpcUrl: options.rpcUrl ?? s.chain.rpcUrl,
    ...(registry ? { registry } : {}),
  });
  if (result.record === null) {
    throw new ProvmarkError(
      "MODEL_UNREGISTERED",
      `${dir} (files digest ${result.digest}) is not a registered release on ${result.rpc}`,
      {
        subject: dir,
        hints: [
          "Its files differ from every registered version: it was modified, or never released.",
          "Release it with `provmark register --model <dir>`.",
        ],
      },
    );
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
