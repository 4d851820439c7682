import { readFile } from "node:fs/promises";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { canonicalJson } from "../core/canonical-json.js";
import { manifestBytes, parseManifest, type ReleaseManifest } from "../core/release-manifest.js";
import { fromFsError, ProvmarkError } from "../errors.js";
import { type LedgerOptions, openLedger } from "../ledger/open-ledger.js";
import { modelIdOf, ZERO32 } from "../ledger/registry-client.js";
import type { StoreSettings } from "../store/open-store.js";
import { VERSION } from "../version.js";
import { requireRegistry } from "./register-release.js";

/** Leaf values, in the order of the contract's `batchLeaf(modelId, digest, parent, certificateHash)`. */
export const BATCH_LEAF_TYPES = ["bytes32", "bytes32", "bytes32", "bytes32"];

export interface BatchRecord {
  name: string;
  version: string;
  digest: string;
  manifestCid: string;
  /** [modelId, digest, parent, certificateHash] as 0x bytes32. */
  values: [string, string, string, string];
  leaf: string;
  proof: string[];
}

export interface BatchDocument {
  schema: "provmark/batch/v1";
  root: string;
  count: number;
  /** Owner of the namespaces the records' model ids name (modelId = modelIdOf(owner, name)). */
  owner: string;
  createdAt: string;
  tool: string;
  leafEncoding: "keccak256(keccak256(abi.encode(modelId, digest, parent, certificateHash)))";
  records: BatchRecord[];
}

export interface BatchResult {
  root: string;
  count: number;
  batchCid: string;
  txHash: string;
  blockNumber: number;
  anchoredAt: string;
  chainId: string;
  contract: string;
  rpc: string;
  document: BatchDocument;
}

const hex32 = (h: string | null) => (h ? `0x${h}` : ZERO32);

/** Reads and validates release manifest files (as written by `provmark manifest` or `register --manifest-out`). */
export async function readManifests(paths: readonly string[]): Promise<ReleaseManifest[]> {
  const out: ReleaseManifest[] = [];
  for (const path of paths) {
    const text = await readFile(path, "utf8").catch((e: unknown) => {
      throw fromFsError(e, path);
    });
    const r = parseManifest(text);
    if (!r.ok) {
      throw new ProvmarkError("MANIFEST_INVALID", `${path} is not a provmark release manifest`, {
        subject: path,
        hints: r.problems.slice(0, 5),
      });
    }
    out.push(r.manifest);
  }
  return out;
}

/**
 * Builds the Merkle tree of a batch (pure: no chain, no IPFS); manifest CIDs are supplied. The records'
 * model ids are `owner`'s namespaces, so a copied batch still names the owner's models.
 */
export function buildBatch(
  manifests: readonly ReleaseManifest[],
  cids: readonly string[],
  now: Date,
  owner: string,
): BatchDocument {
  if (manifests.length === 0) throw new ProvmarkError("USAGE", "batch-anchor needs at least one manifest");
  const seen = new Set<string>();
  for (const m of manifests) {
    if (seen.has(m.model.filesDigest)) {
      throw new ProvmarkError("USAGE", `digest ${m.model.filesDigest} appears twice in the batch`, {
        subject: m.name,
      });
    }
    seen.add(m.model.filesDigest);
  }
  const values = manifests.map(
    (m) =>
      [modelIdOf(owner, m.name), hex32(m.model.filesDigest), hex32(m.parent), hex32(m.certificate?.hash ?? null)] as [
        string,
        string,
        string,
        string,
      ],
  );
  const tree = StandardMerkleTree.of(values, BATCH_LEAF_TYPES);
  return {
    schema: "provmark/batch/v1",
    root: tree.root,
    count: manifests.length,
    owner,
    createdAt: now.toISOString(),
    tool: `provmark ${VERSION}`,
    leafEncoding: "keccak256(keccak256(abi.encode(modelId, digest, parent, certificateHash)))",
    records: manifests.map((m, i) => ({
      name: m.name,
      version: m.version,
      digest: m.model.filesDigest,
      manifestCid: cids[i] as string,
      values: values[i] as [string, string, string, string],
      leaf: tree.leafHash(values[i] as [string, string, string, string]),
      proof: tree.getProof(i),
    })),
  };
}

/** Stores the manifests and the batch document in IPFS, then anchors the root on chain (one transaction). */
export async function anchorManifests(
  paths: readonly string[],
  o: { ledger: Omit<LedgerOptions, "access">; store: StoreSettings; now?: Date; owner?: string | null },
): Promise<BatchResult> {
  const manifests = await readManifests(paths);
  const ledger = await openLedger({ ...o.ledger, access: "write" });
  try {
    const registry = requireRegistry(ledger);
    const owner = o.owner ?? (await registry.signerAddress());
    const { openStore } = await import("../store/open-store.js");
    const store = await openStore(o.store);
    let doc: BatchDocument;
    let batchCid: string;
    try {
      const cids: string[] = [];
      for (const m of manifests) cids.push((await store.addBytes(manifestBytes(m))).cid);
      doc = buildBatch(manifests, cids, o.now ?? new Date(), owner);
      batchCid = (await store.addBytes(new TextEncoder().encode(canonicalJson(doc)))).cid;
    } finally {
      await store.close();
    }
    const tx = await registry.anchorBatch(doc.root, doc.count, batchCid);
    return {
      root: doc.root,
      count: doc.count,
      batchCid,
      txHash: tx.txHash,
      blockNumber: tx.blockNumber,
      anchoredAt: new Date(tx.timestamp * 1000).toISOString(),
      chainId: ledger.chainId.toString(),
      contract: registry.address,
      rpc: ledger.rpc,
      document: doc,
    };
  } finally {
    await ledger.close();
  }
}
