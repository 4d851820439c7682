import {
  AbiCoder,
  Contract,
  type ContractRunner,
  type ContractTransactionResponse,
  type EventLog,
  keccak256,
  type Log,
  type Provider,
  toUtf8Bytes,
} from "ethers";
import { toBytes32 } from "../core/digest/hex-digest.js";
import { ProvmarkError } from "../errors.js";
import { ledgerError } from "./decode-error.js";
import { PROVENANCE_REGISTRY_ABI, type ProvenanceRegistryContract } from "./generated/provenance-registry.js";
import { queryLogsChunked } from "./query-logs.js";

export { toBytes32 };

export const ZERO32 = `0x${"0".repeat(64)}`;

/** The hash of a model name that, with its creator's address, makes the namespace id. */
export function modelNameHash(name: string): string {
  return keccak256(toUtf8Bytes(`provmark/model/v1:${name}`));
}

/**
 * The on-chain id of the model namespace `name` created by `owner` (the contract's `modelIdOf`). Every
 * account has its own namespace for every name, so nobody can take a name (or a pending digest) from
 * another account: a verifier looks a model up under the owner it expects.
 */
export function modelIdOf(owner: string, name: string): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["address", "bytes32"], [owner, modelNameHash(name)]));
}

/** Whether two addresses are the same account (checksummed or not). */
export const sameAddress = (a: string | null | undefined, b: string | null | undefined) =>
  !!a && !!b && a.toLowerCase() === b.toLowerCase();

/** Everything the chain knows about one version: storage plus its VersionRegistered/VersionRevoked logs. */
export interface VersionRecord {
  digest: string;
  modelId: string;
  /** The model namespace's current owner (who a verifier checks against). */
  owner: string;
  parent: string | null;
  certificateHash: string | null;
  manifestCid: string;
  /** The owner or maintainer that registered it. */
  registrant: string;
  /** Block time of registration, unix seconds. */
  registeredAt: number;
  revokedAt: number | null;
  revocationReason: string | null;
  revoker: string | null;
  txHash: string;
  blockNumber: number;
}

export interface RegisterInput {
  modelId: string;
  digest: string;
  parent: string | null;
  certificateHash: string | null;
  manifestCid: string;
}

export interface TxResult {
  txHash: string;
  blockNumber: number;
  /** Block time, unix seconds. */
  timestamp: number;
}

export interface RegistryClientOptions {
  address: string;
  runner: ContractRunner & { provider: Provider | null };
  /** First block worth scanning for logs (the deployment block). */
  fromBlock: number;
  /** Where the chain is, for messages ("embedded chain in …" or the RPC URL). */
  rpc: string;
  confirmations?: number | undefined;
  /** How long to wait for a transaction to be mined. */
  txTimeoutMs?: number | undefined;
}

/** Typed access to one ProvenanceRegistry: reads, writes that wait for confirmations, decoded errors. */
export class RegistryClient {
  readonly address: string;
  readonly rpc: string;
  private readonly contract: ProvenanceRegistryContract;
  private readonly provider: Provider;
  private readonly fromBlock: number;
  private readonly confirmations: number;
  private readonly txTimeoutMs: number;

  constructor(o: RegistryClientOptions) {
    if (!o.runner.provider) throw new Error("RegistryClient needs a runner with a provider");
    this.address = o.address;
    this.rpc = o.rpc;
    this.contract = new Contract(o.address, PROVENANCE_REGISTRY_ABI, o.runner) as unknown as ProvenanceRegistryContract;
    this.provider = o.runner.provider;
    this.fromBlock = o.fromBlock;
    this.confirmations = o.confirmations ?? 1;
    this.txTimeoutMs = o.txTimeoutMs ?? 300_000;
  }

  async modelOwner(modelId: string): Promise<string | null> {
    const owner = await this.read("read the model owner", () => this.contract.modelOwner(modelId));
    return /^0x0{40}$/i.test(owner) ? null : owner;
  }

  async isMaintainer(modelId: string, account: string): Promise<boolean> {
    return this.read("read the maintainers", () => this.contract.isMaintainer(modelId, account));
  }

  /** The signer's address (writes only). */
  async signerAddress(): Promise<string> {
    const runner = this.contract.runner as { getAddress?: () => Promise<string> } | null;
    if (!runner?.getAddress) throw new Error("RegistryClient has no signer");
    return runner.getAddress();
  }

  /** Creates the signer's namespace `name` when it does not exist; returns its id. */
  async ensureModel(name: string): Promise<{ modelId: string; created: TxResult | null }> {
    const modelId = modelIdOf(await this.signerAddress(), name);
    if ((await this.modelOwner(modelId)) !== null) return { modelId, created: null };
    const created = await this.send("create the model namespace", () => this.contract.createModel(modelNameHash(name)));
    return { modelId, created };
  }

  register(r: RegisterInput): Promise<TxResult> {
    return this.send("register the version", () =>
      this.contract.registerVersion(
        r.modelId,
        r.digest,
        r.parent ?? ZERO32,
        r.certificateHash ?? ZERO32,
        r.manifestCid,
      ),
    );
  }

  /** The signer's next EIP-712 registration nonce (each signature uses one, in order). */
  async nonce(account: string): Promise<bigint> {
    return this.read("read the signer's nonce", () => this.contract.nonces(account));
  }

  /** Submits a registration `signer` signed (EIP-712); the caller's account only pays the gas. */
  registerBySig(r: RegisterInput & { signer: string; deadline: bigint; signature: string }): Promise<TxResult> {
    return this.send("relay the signed registration", () =>
      this.contract.registerVersionBySig(
        r.modelId,
        r.digest,
        r.parent ?? ZERO32,
        r.certificateHash ?? ZERO32,
        r.manifestCid,
        r.signer,
        r.deadline,
        r.signature,
      ),
    );
  }

  revoke(modelId: string, digest: string, reason: string): Promise<TxResult> {
    return this.send("revoke the version", () => this.contract.revokeVersion(modelId, digest, reason));
  }

  /** Files a theft claim for `digest` of `modelId`; the claim id comes from the ClaimFiled log. */
  async fileClaim(
    modelId: string,
    digest: string,
    suspectRef: string,
    evidenceCid: string,
    certificateHash: string,
  ): Promise<TxResult & { claimId: string }> {
    const tx = await this.send("file the claim", () =>
      this.contract.fileClaim(modelId, digest, suspectRef, evidenceCid, certificateHash),
    );
    const logs = await this.logs("ClaimFiled", [modelId, digest], tx.blockNumber);
    const log = logs.find((l) => l.transactionHash === tx.txHash);
    return { ...tx, claimId: String(log?.args[3] ?? "") };
  }

  anchorBatch(root: string, count: number, manifestCid: string): Promise<TxResult> {
    return this.send("anchor the batch", () => this.contract.anchorBatch(root, count, manifestCid));
  }

  /** `anchorer`'s anchor of `root` (each account anchors into its own keyspace), or null. */
  async getBatch(
    anchorer: string,
    root: string,
  ): Promise<{ anchoredAt: number; anchorer: string; count: number } | null> {
    const b = await this.read("read the batch", () => this.contract.getBatch(anchorer, root));
    return b.anchoredAt === 0n ? null : { anchoredAt: Number(b.anchoredAt), anchorer, count: Number(b.count) };
  }

  /** Every batch anchor's root, anchorer, label (its manifestCid argument) and block. */
  async batchAnchors(): Promise<{ root: string; anchorer: string; label: string; blockNumber: number }[]> {
    return (await this.logs("BatchAnchored", [])).map((l) => ({
      root: String(l.args[0]),
      anchorer: String(l.args[1]),
      label: String(l.args[3]),
      blockNumber: l.blockNumber,
    }));
  }

  verifyBatchRecord(anchorer: string, root: string, leaf: string, proof: string[]): Promise<boolean> {
    return this.read("verify the batch proof", () => this.contract.verifyBatchRecord(anchorer, root, leaf, proof));
  }

  /** The full record of `digest` in namespace `modelId`, or null if it was never registered there. */
  async version(modelId: string, digest: string): Promise<VersionRecord | null> {
    const v = await this.read("look up the version", () => this.contract.getVersion(modelId, digest));
    if (v.registeredAt === 0n) return null;
    const [registered] = await this.logs("VersionRegistered", [modelId, digest]);
    if (!registered) {
      throw new ProvmarkError(
        "CHAIN_RPC_ERROR",
        `${digest} is registered but ${this.rpc} returned no VersionRegistered log for it`,
        { hints: ["The node may prune old logs; use an archive node or one that serves eth_getLogs fully."] },
      );
    }
    const revoked = v.revokedAt === 0n ? null : ((await this.logs("VersionRevoked", [modelId, digest]))[0] ?? null);
    return toRecord(registered, revoked, v.owner);
  }

  /**
   * Every namespace's registration of `digest`, oldest first. Anyone can register any digest in their
   * own namespace (a copy of a release proves nothing about its owner), so callers pick by owner.
   */
  async registrations(digest: string): Promise<VersionRecord[]> {
    const models = [...new Set((await this.logs("VersionRegistered", [null, digest])).map((l) => String(l.args[0])))];
    const out: VersionRecord[] = [];
    for (const modelId of models) {
      const rec = await this.version(modelId, digest);
      if (rec) out.push(rec);
    }
    return out;
  }

  /** The registrations of `digest` in namespaces `account` owns or maintains (for revoke and claims). */
  async registrationsManagedBy(digest: string, account: string): Promise<VersionRecord[]> {
    const out: VersionRecord[] = [];
    for (const rec of await this.registrations(digest)) {
      if (sameAddress(rec.owner, account) || (await this.isMaintainer(rec.modelId, account))) out.push(rec);
    }
    return out;
  }

  /** Every namespace called `name`, whoever created it (ModelCreated logs by the name's hash). */
  async modelsNamed(name: string): Promise<{ modelId: string; creator: string }[]> {
    return (await this.logs("ModelCreated", [null, null, modelNameHash(name)])).map((l) => ({
      modelId: String(l.args[0]),
      creator: String(l.args[1]),
    }));
  }

  /** Every version of a model in registration order, with revocations (both found by the model's topic). */
  async versionsOf(modelId: string): Promise<VersionRecord[]> {
    const registered = await this.logs("VersionRegistered", [modelId]);
    if (registered.length === 0) return [];
    const owner = (await this.modelOwner(modelId)) ?? "";
    const revocations = new Map<string, EventLog>();
    for (const log of await this.logs("VersionRevoked", [modelId])) revocations.set(String(log.args[1]), log);
    return registered.map((log) => toRecord(log, revocations.get(String(log.args[1])) ?? null, owner));
  }

  /** `digest` of `modelId` and its ancestors up to the root version (first element is `digest` itself). */
  async lineage(modelId: string, digest: string): Promise<VersionRecord[]> {
    const chain: VersionRecord[] = [];
    const seen = new Set<string>();
    let next: string | null = digest;
    while (next !== null && !seen.has(next)) {
      seen.add(next);
      const rec = await this.version(modelId, next);
      if (!rec) break;
      chain.push(rec);
      next = rec.parent;
    }
    return chain;
  }

  private async logs(
    event: "ModelCreated" | "VersionRegistered" | "VersionRevoked" | "ClaimFiled" | "BatchAnchored",
    topics: (string | null)[],
    fromBlock = this.fromBlock,
  ): Promise<EventLog[]> {
    const filter = this.contract.filters[event]?.(...topics);
    if (!filter) throw new Error(`no event ${event} in the ABI`);
    const logs: (Log | EventLog)[] = await queryLogsChunked(
      (from, to) => this.contract.queryFilter(filter, from, to),
      () => this.provider.getBlockNumber(),
      fromBlock,
    ).catch((e: unknown) => {
      throw ledgerError(e, `read ${event} logs`, this.rpc);
    });
    return logs.filter((l): l is EventLog => "args" in l);
  }

  private async read<T>(action: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      throw ledgerError(e, action, this.rpc);
    }
  }

  private async send(action: string, f: () => Promise<ContractTransactionResponse>): Promise<TxResult> {
    let tx: ContractTransactionResponse;
    try {
      tx = await f();
    } catch (e) {
      const err = ledgerError(e, action, this.rpc);
      const from = (this.contract.runner as { address?: string } | null)?.address;
      if (err.code === "CHAIN_INSUFFICIENT_FUNDS" && from) {
        throw new ProvmarkError(err.code, `${err.message} (signer ${from})`, { hints: err.hints, cause: e });
      }
      throw err;
    }
    let receipt: Awaited<ReturnType<ContractTransactionResponse["wait"]>>;
    try {
      receipt = await tx.wait(this.confirmations, this.txTimeoutMs);
    } catch (e) {
      if ((e as { code?: string }).code === "TIMEOUT") {
        throw new ProvmarkError(
          "CHAIN_TX_FAILED",
          `${action}: transaction ${tx.hash} was not confirmed within ${Math.round(this.txTimeoutMs / 1000)} s`,
          {
            hints: [
              "It may still be mined: check the hash on the chain before retrying (a retry of a registration would revert as a duplicate).",
            ],
          },
        );
      }
      throw ledgerError(e, action, this.rpc);
    }
    if (receipt?.status !== 1) {
      throw new ProvmarkError("CHAIN_TX_FAILED", `${action}: transaction ${tx.hash} reverted`, {});
    }
    const block = await this.provider.getBlock(receipt.blockNumber);
    return { txHash: receipt.hash, blockNumber: receipt.blockNumber, timestamp: block?.timestamp ?? 0 };
  }
}

function toRecord(registered: EventLog, revoked: EventLog | null, owner: string): VersionRecord {
  const [modelId, digest, parent, certificateHash, manifestCid, registrant, registeredAt] = registered.args;
  return {
    digest: String(digest),
    modelId: String(modelId),
    owner,
    parent: parent === ZERO32 ? null : String(parent),
    certificateHash: certificateHash === ZERO32 ? null : String(certificateHash),
    manifestCid: String(manifestCid),
    registrant: String(registrant),
    registeredAt: Number(registeredAt),
    revokedAt: revoked ? Number(revoked.args[4]) : null,
    revocationReason: revoked ? String(revoked.args[3]) : null,
    revoker: revoked ? String(revoked.args[2]) : null,
    txHash: registered.transactionHash,
    blockNumber: registered.blockNumber,
  };
}
