import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { fromFsError } from "../../errors.js";
import { createEdrNetwork, type EdrNetwork, type Eip1193Provider, EMBEDDED_CHAIN_ID } from "./edr-network.js";
import {
  createJournal,
  type JournalBlock,
  type JournalContents,
  JournalWriter,
  journalInvalid,
  journalPath,
  newJournalHeader,
  readJournal,
} from "./journal.js";
import { type ChainHead, JournalingProvider, readOnlyProvider } from "./journaling-provider.js";
import { acquireLock, findServer, type HeldLock } from "./lock.js";
import { HttpRpcClient, probeEmbeddedServer } from "./rpc-client.js";

/** A connection to the persistent dev chain. */
export interface EmbeddedChain {
  provider: Eip1193Provider;
  chainId: bigint;
  stateDir: string;
  /** URL of a running `provmark chain` server used instead of an in-process network, or null. */
  servedBy: string | null;
  /** The latest block number when the chain was opened (the number of journaled blocks). */
  blocks: number;
  close(): Promise<void>;
}

export interface OpenEmbeddedChainOptions {
  stateDir: string;
  /** "write" holds the chain lock while open; "read" takes no lock, writes nothing and refuses transactions. */
  access: "read" | "write";
  /** Clock in milliseconds (default Date.now): block timestamps are max(now, previous) in seconds. */
  now?: () => number;
  /** How long to wait for another process holding the lock (default 15 s). */
  lockTimeoutMs?: number;
}

/** How a replay went: the head it reached and its speed. */
export interface ReplayStats {
  head: ChainHead;
  blocks: number;
  seconds: number;
}

let lastReplay: ReplayStats | null = null;

/** Statistics of this process's most recent replay (for `provmark doctor` and benchmarks). */
export function lastReplayStats(): ReplayStats | null {
  return lastReplay;
}

interface RpcReceipt {
  blockNumber: string;
  status: string;
  contractAddress: string | null;
}

function errorTxHash(e: unknown): string | undefined {
  const err = e as { transactionHash?: unknown; data?: { transactionHash?: unknown } } | undefined;
  const hash = err?.transactionHash ?? err?.data?.transactionHash;
  return typeof hash === "string" ? hash : undefined;
}

async function replayBlock(provider: Eip1193Provider, block: JournalBlock, path: string): Promise<void> {
  const line = block.n + 1;
  const call = (method: string, params: unknown[] = []) => provider.request({ method, params });
  try {
    await call("evm_setNextBlockTimestamp", [block.t]);
  } catch (e) {
    throw journalInvalid(path, line, `block ${block.n}'s timestamp ${block.t} was refused: ${(e as Error).message}`, e);
  }
  const failures = new Map<string, string>();
  const send = async (raw: string, recorded: string) => {
    let hash: string | undefined;
    try {
      hash = (await call("eth_sendRawTransaction", [raw])) as string;
    } catch (e) {
      // A reverted transaction is mined anyway and the error names it; anything else was refused.
      hash = errorTxHash(e);
      if (hash === undefined) {
        throw journalInvalid(path, line, `transaction ${recorded} was refused on replay: ${(e as Error).message}`, e);
      }
      failures.set(recorded, (e as Error).message);
    }
    if (hash.toLowerCase() !== recorded.toLowerCase()) {
      throw journalInvalid(path, line, `transaction replayed as ${hash}, but the journal records ${recorded}`);
    }
  };
  const [only, ...more] = block.txs;
  if (only === undefined) {
    await call("evm_mine");
  } else if (more.length === 0) {
    await send(only.raw, only.hash);
  } else {
    // Never written by provmark (automine gives one transaction per block), but valid journal.
    await call("evm_setAutomine", [false]);
    try {
      for (const tx of block.txs) await send(tx.raw, tx.hash);
      await call("evm_mine");
    } finally {
      await call("evm_setAutomine", [true]);
    }
  }
  const latest = Number(BigInt((await call("eth_blockNumber")) as string));
  if (latest !== block.n) {
    throw journalInvalid(path, line, `replaying block ${block.n} left the chain at block ${latest}`);
  }
  for (const tx of block.txs) {
    const receipt = (await call("eth_getTransactionReceipt", [tx.hash])) as RpcReceipt | null;
    if (receipt === null || Number(BigInt(receipt.blockNumber)) !== block.n) {
      const why = failures.get(tx.hash);
      throw journalInvalid(
        path,
        line,
        `transaction ${tx.hash} was not mined in block ${block.n} on replay${why === undefined ? "" : `: ${why}`}`,
      );
    }
    const status = Number(BigInt(receipt.status));
    if (status !== tx.status) {
      throw journalInvalid(
        path,
        line,
        `transaction ${tx.hash} replayed with status ${status}, journal says ${tx.status}`,
      );
    }
    const address = receipt.contractAddress?.toLowerCase();
    if (address !== tx.contractAddress?.toLowerCase()) {
      throw journalInvalid(
        path,
        line,
        `transaction ${tx.hash} replayed with contract address ${address ?? "none"}, journal says ${tx.contractAddress ?? "none"}`,
      );
    }
  }
}

/**
 * Replays a journal's blocks, with their original timestamps, into a fresh network and checks every
 * transaction's hash, status and contract address against the journal.
 */
export async function replayJournal(provider: Eip1193Provider, journal: JournalContents): Promise<ReplayStats> {
  const started = performance.now();
  let head: ChainHead = { number: 0, timestamp: journal.header.genesisTime };
  for (const block of journal.blocks) {
    await replayBlock(provider, block, journal.path);
    head = { number: block.n, timestamp: block.t };
  }
  const stats = { head, blocks: journal.blocks.length, seconds: (performance.now() - started) / 1000 };
  lastReplay = stats;
  return stats;
}

/** A network replayed from `journal` (or empty, with genesis at `genesisTime`). */
async function replayedNetwork(
  journal: JournalContents | null,
  genesisTime: number,
): Promise<{ network: EdrNetwork; head: ChainHead }> {
  const network = await createEdrNetwork(journal?.header.genesisTime ?? genesisTime);
  try {
    const head =
      journal === null ? { number: 0, timestamp: genesisTime } : (await replayJournal(network.provider, journal)).head;
    return { network, head };
  } catch (e) {
    await network.close();
    throw e;
  }
}

async function servedChain(stateDir: string, url: string, access: "read" | "write"): Promise<EmbeddedChain> {
  const client = new HttpRpcClient(url);
  const blocks = Number(BigInt((await client.request({ method: "eth_blockNumber" })) as string));
  return {
    provider: access === "read" ? readOnlyProvider(client) : client,
    chainId: EMBEDDED_CHAIN_ID,
    stateDir,
    servedBy: url,
    blocks,
    close: async () => {},
  };
}

/** An in-process chain this process may write, with the lock it holds (the server needs both). */
export interface WritableChain {
  chain: EmbeddedChain;
  provider: JournalingProvider;
  lock: HeldLock;
}

/**
 * Takes the lock, replays the journal (creating it, and `stateDir` with mode 0700, on first use) and
 * returns a journaling provider; or, when a live `provmark chain` server holds the lock, its URL.
 */
export async function openWritableChain(options: {
  stateDir: string;
  now: () => number;
  lockTimeoutMs?: number;
  whenServed: "use" | "refuse";
}): Promise<WritableChain | { servedBy: string }> {
  const stateDir = resolve(options.stateDir);
  await mkdir(stateDir, { recursive: true, mode: 0o700 }).catch((e: unknown) => {
    throw fromFsError(e, stateDir, "create");
  });
  const outcome = await acquireLock(stateDir, {
    probe: (url) => probeEmbeddedServer(url),
    whenServed: options.whenServed,
    ...(options.lockTimeoutMs === undefined ? {} : { timeoutMs: options.lockTimeoutMs }),
  });
  if ("servedBy" in outcome) return outcome;
  const { lock } = outcome;
  let network: EdrNetwork | undefined;
  let writer: JournalWriter | undefined;
  try {
    let journal = await readJournal(stateDir);
    if (journal === null) {
      await createJournal(stateDir, newJournalHeader(Math.floor(options.now() / 1000)));
      journal = await readJournal(stateDir);
    }
    if (journal === null)
      throw journalInvalid(journalPath(stateDir), 1, "the journal vanished right after it was created");
    const replayed = await replayedNetwork(journal, journal.header.genesisTime);
    network = replayed.network;
    writer = await JournalWriter.open(journal);
    const provider = new JournalingProvider({
      inner: network.provider,
      journal: writer,
      head: replayed.head,
      now: options.now,
    });
    const openNetwork = network;
    const openWriter = writer;
    let closed: Promise<void> | undefined;
    const chain: EmbeddedChain = {
      provider,
      chainId: EMBEDDED_CHAIN_ID,
      stateDir,
      servedBy: null,
      blocks: replayed.head.number,
      close: () => {
        closed ??= (async () => {
          try {
            await provider.close();
            await openWriter.close();
            await openNetwork.close();
          } finally {
            await lock.release();
          }
        })();
        return closed;
      },
    };
    return { chain, provider, lock };
  } catch (e) {
    await writer?.close().catch(() => undefined);
    await network?.close().catch(() => undefined);
    await lock.release();
    throw e;
  }
}

/**
 * Opens the persistent dev chain kept in `stateDir` (`<dataDir>/chain`): its journal is replayed into
 * Hardhat's in-process network. With access "write" the process holds the chain lock until `close()`
 * and every mined block is journaled before the caller sees the result; with "read" nothing is locked
 * or written and state-changing methods are refused. When a `provmark chain` server holds the lock,
 * its URL is used instead (`servedBy`).
 *
 * @example
 * const chain = await openEmbeddedChain({ stateDir: settings().chain.stateDir, access: "write" });
 * try {
 *   const provider = new ethers.BrowserProvider(chain.provider);
 *   // ... send transactions
 * } finally {
 *   await chain.close();
 * }
 */
export async function openEmbeddedChain(options: OpenEmbeddedChainOptions): Promise<EmbeddedChain> {
  const now = options.now ?? Date.now;
  const stateDir = resolve(options.stateDir);
  if (options.access === "write") {
    const opened = await openWritableChain({
      stateDir,
      now,
      whenServed: "use",
      ...(options.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: options.lockTimeoutMs }),
    });
    return "servedBy" in opened ? servedChain(stateDir, opened.servedBy, "write") : opened.chain;
  }
  const served = await findServer(stateDir, (url) => probeEmbeddedServer(url));
  if (served !== null) return servedChain(stateDir, served, "read");
  const journal = await readJournal(stateDir);
  const { network, head } = await replayedNetwork(journal, Math.floor(now() / 1000));
  const provider = new JournalingProvider({ inner: network.provider, journal: null, head, now });
  let closed: Promise<void> | undefined;
  return {
    provider,
    chainId: EMBEDDED_CHAIN_ID,
    stateDir,
    servedBy: null,
    blocks: head.number,
    close: () => {
      closed ??= provider.close().then(() => network.close());
      return closed;
    },
  };
}
