import { keccak256, Signature, Transaction, toBeHex } from "ethers";
import { ProvmarkError } from "../../errors.js";
import type { Eip1193Provider } from "./edr-network.js";
import type { JournalBlock, JournalTx } from "./journal.js";
import { RpcCode, RpcError, readOnlyRefusal, unreplayableMethod } from "./rpc-error.js";

/** Methods that mine a block; they are journaled. */
export const MUTATING_METHODS: ReadonlySet<string> = new Set([
  "eth_sendRawTransaction",
  "eth_sendTransaction",
  "evm_mine",
]);

/** Read-only extras beyond eth_*, net_* and web3_*. */
const READ_ONLY_EXTRAS: ReadonlySet<string> = new Set(["hardhat_metadata", "hardhat_getAutomine"]);

/** Methods that run against the pending block, whose timestamp should be "now", not the clock EDR kept. */
const PENDING_BLOCK_METHODS: ReadonlySet<string> = new Set(["eth_call", "eth_estimateGas", "eth_createAccessList"]);

/**
 * The allow-list: everything a journal of signed transactions can replay, or that changes nothing.
 * Time travel, snapshots, state setters, impersonation and mining switches are refused.
 */
export function isAllowedMethod(method: string): boolean {
  return /^(eth|net|web3)_/.test(method) || method === "evm_mine" || READ_ONLY_EXTRAS.has(method);
}

/** The last mined block: number and timestamp (unix seconds). */
export interface ChainHead {
  number: number;
  timestamp: number;
}

/** A transaction as eth_getBlockByNumber(n, true) returns it. */
export interface RpcTransaction {
  hash: string;
  type: string;
  nonce: string;
  to: string | null;
  value: string;
  gas: string;
  input: string;
  chainId?: string;
  gasPrice?: string;
  maxFeePerGas?: string;
  maxPriorityFeePerGas?: string;
  accessList?: { address: string; storageKeys: string[] }[];
  v: string;
  r: string;
  s: string;
  yParity?: string;
}

interface RpcBlock {
  number: string;
  timestamp: string;
  transactions: RpcTransaction[];
}

interface RpcReceipt {
  blockNumber: string;
  status: string;
  contractAddress: string | null;
}

/**
 * The signed raw serialisation of a mined transaction, rebuilt from its JSON-RPC fields; checked
 * against the transaction's hash. Legacy, EIP-2930 and EIP-1559 transactions (the only ones the
 * persistent chain accepts).
 */
export function signedRawTransaction(tx: RpcTransaction): string {
  const type = Number(tx.type);
  if (type !== 0 && type !== 1 && type !== 2) {
    throw new ProvmarkError("INTERNAL", `transaction ${tx.hash} has type ${type}, which cannot be journaled`);
  }
  const v = BigInt(tx.v);
  // Legacy transactions carry their chain id in v (EIP-155: v = 2 * chainId + 35 + parity).
  const chainId = type === 0 ? (v >= 35n ? (v - 35n) / 2n : 0n) : BigInt(tx.chainId ?? "0x0");
  const signature = Signature.from({
    r: toBeHex(BigInt(tx.r), 32),
    s: toBeHex(BigInt(tx.s), 32),
    v: type === 0 ? v : BigInt(tx.yParity ?? tx.v) === 0n ? 27 : 28,
  });
  const rebuilt = Transaction.from({
    type,
    chainId,
    nonce: Number(tx.nonce),
    to: tx.to,
    value: BigInt(tx.value),
    gasLimit: BigInt(tx.gas),
    data: tx.input,
    ...(type === 2
      ? {
          maxFeePerGas: BigInt(tx.maxFeePerGas ?? "0x0"),
          maxPriorityFeePerGas: BigInt(tx.maxPriorityFeePerGas ?? "0x0"),
        }
      : { gasPrice: BigInt(tx.gasPrice ?? "0x0") }),
    ...(type === 0 ? {} : { accessList: tx.accessList ?? [] }),
    signature,
  });
  const raw = rebuilt.serialized;
  if (keccak256(raw) !== tx.hash.toLowerCase()) {
    throw new ProvmarkError("INTERNAL", `rebuilding transaction ${tx.hash} from its fields gave another hash`);
  }
  return raw;
}

/** The type byte of a raw transaction (0 for legacy RLP lists). */
function rawTransactionType(raw: unknown): number {
  if (typeof raw !== "string" || !/^0x[0-9a-fA-F]{2}/.test(raw)) return 0;
  const first = Number.parseInt(raw.slice(2, 4), 16);
  return first >= 0xc0 ? 0 : first;
}

/** Where mined blocks go (a JournalWriter). */
export interface JournalSink {
  readonly path: string;
  /** Resolves once the block is durably stored. */
  append(block: JournalBlock): Promise<void>;
}

export interface JournalingProviderOptions {
  /** The in-process network's provider. */
  inner: Eip1193Provider;
  /** Where mined blocks go; null makes the provider read-only (state-changing methods refused). */
  journal: JournalSink | null;
  /** The last block the journal holds (after replay). */
  head: ChainHead;
  /** Clock in milliseconds (Date.now); block timestamps are max(now in seconds, previous). */
  now: () => number;
}

/**
 * EIP-1193 provider over the in-process network that journals every block it mines before the
 * caller learns the result. Requests run one at a time. Methods whose effect the journal cannot
 * replay are refused with code -32601; after a journaling failure every request fails.
 */
export class JournalingProvider implements Eip1193Provider {
  readonly #inner: Eip1193Provider;
  readonly #journal: JournalSink | null;
  readonly #now: () => number;
  #head: ChainHead;
  #queue: Promise<unknown> = Promise.resolve();
  #failure: ProvmarkError | null = null;
  #closed = false;

  constructor(options: JournalingProviderOptions) {
    this.#inner = options.inner;
    this.#journal = options.journal;
    this.#head = { ...options.head };
    this.#now = options.now;
  }

  /** The last mined (and journaled) block. */
  get head(): ChainHead {
    return { ...this.#head };
  }

  request(args: { method: string; params?: unknown[] | Record<string, unknown> }): Promise<unknown> {
    if (this.#closed) return Promise.reject(new RpcError(RpcCode.disconnected, "the embedded chain is closed"));
    const run = this.#queue.then(() => this.#handle(args.method, args.params));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Refuses new requests, then waits for those already made. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue;
  }

  async #handle(method: string, params: unknown[] | Record<string, unknown> | undefined): Promise<unknown> {
    if (this.#failure !== null) throw this.#failure;
    if (typeof method !== "string" || !isAllowedMethod(method)) throw unreplayableMethod(String(method));
    if (!MUTATING_METHODS.has(method)) {
      if (PENDING_BLOCK_METHODS.has(method)) await this.#setNextTimestamp();
      return this.#forward(method, params);
    }
    if (this.#journal === null) throw readOnlyRefusal(method);
    const list = Array.isArray(params) ? params : [];
    if (method === "evm_mine" && list.length > 0) {
      throw unreplayableMethod("evm_mine with a timestamp", "block timestamps follow the wall clock");
    }
    if (method === "eth_sendRawTransaction" && rawTransactionType(list[0]) > 2) {
      throw unreplayableMethod(
        `eth_sendRawTransaction of a type ${rawTransactionType(list[0])} transaction`,
        "only legacy, EIP-2930 and EIP-1559 transactions can be journaled",
      );
    }
    const first = list[0] as Record<string, unknown> | undefined;
    if (method === "eth_sendTransaction" && (first?.blobVersionedHashes !== undefined || first?.blobs !== undefined)) {
      throw unreplayableMethod("eth_sendTransaction of a blob transaction", "blob transactions cannot be journaled");
    }
    await this.#setNextTimestamp();
    let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await this.#forward(method, params) };
    } catch (error) {
      // A reverted transaction is mined all the same: journal whatever was mined, then rethrow.
      outcome = { ok: false, error };
    }
    await this.#journalNewBlocks();
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  #forward(method: string, params: unknown[] | Record<string, unknown> | undefined): Promise<unknown> {
    return this.#inner.request(params === undefined ? { method } : { method, params });
  }

  async #setNextTimestamp(): Promise<void> {
    // Never behind the previous block; never ahead of the clock unless the clock went back.
    const next = Math.max(Math.floor(this.#now() / 1000), this.#head.timestamp);
    await this.#inner.request({ method: "evm_setNextBlockTimestamp", params: [next] });
  }

  async #journalNewBlocks(): Promise<void> {
    try {
      const latest = Number(BigInt((await this.#forward("eth_blockNumber", [])) as string));
      for (let n = this.#head.number + 1; n <= latest; n++) {
        const block = (await this.#forward("eth_getBlockByNumber", [toBeHex(n), true])) as RpcBlock;
        const txs: JournalTx[] = [];
        for (const tx of block.transactions) {
          const receipt = (await this.#forward("eth_getTransactionReceipt", [tx.hash])) as RpcReceipt;
          txs.push({
            raw: signedRawTransaction(tx),
            hash: tx.hash,
            status: Number(receipt.status) === 1 ? 1 : 0,
            ...(receipt.contractAddress ? { contractAddress: receipt.contractAddress } : {}),
          });
        }
        const entry: JournalBlock = { n, t: Number(BigInt(block.timestamp)), txs };
        await this.#journal?.append(entry);
        this.#head = { number: n, timestamp: entry.t };
      }
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      this.#failure = new ProvmarkError(
        e instanceof ProvmarkError ? e.code : "INTERNAL",
        `the embedded chain mined block ${this.#head.number + 1} but could not journal it (${why}); ` +
          "it refuses further requests so that nothing unjournaled is built on",
        {
          cause: e,
          ...(this.#journal === null ? {} : { subject: this.#journal.path }),
          hints: ["Close and reopen the chain: it replays the journal, which holds every block before this one."],
        },
      );
      throw this.#failure;
    }
  }
}

/** A provider that refuses the state-changing methods of `inner` (for served read-only connections). */
export function readOnlyProvider(inner: Eip1193Provider): Eip1193Provider {
  return {
    request(args) {
      if (MUTATING_METHODS.has(args.method)) return Promise.reject(readOnlyRefusal(args.method));
      return inner.request(args);
    },
  };
}
