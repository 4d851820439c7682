import { CID } from "multiformats/cid";
import { ProvmarkError } from "../errors.js";
import type { ImportProfile, ImportProfileName } from "./profiles.js";

export interface AddResult {
  /** The root CID, as IPFS prints it (CIDv0 base58btc `Qm…`, CIDv1 base32 `baf…`). */
  cid: string;
  /** Bytes of content added: what `cat` returns (with an envelope, the envelope's bytes). */
  size: number;
  /** The import settings that gave this CID; record them with it. */
  profile: ImportProfile;
}

export interface AddOptions {
  /** Default `unixfs-v1-2025`. */
  profile?: ImportProfileName;
}

export interface AddFileOptions extends AddOptions {
  /** 32 bytes: store the file sealed in an AES-256-GCM envelope (see envelope.ts), never in clear. */
  envelopeKey?: Uint8Array;
}

export interface CatOptions {
  /** Fail with IPFS_CONTENT_INVALID past this many bytes instead of reading on. */
  maxBytes?: number;
  /** How long to wait for any one block (default 30 s); past it, IPFS_NOT_FOUND. */
  timeoutMs?: number;
}

/**
 * Where artifacts go: an embedded Helia blockstore or a Kubo daemon. Every read is checked against
 * the CID, so what `cat` returns is what was added, whoever served it.
 */
export interface ArtifactStore {
  readonly kind: "helia" | "kubo";
  /** Blockstore directory or RPC API URL, for messages and manifests. */
  readonly location: string;
  addBytes(bytes: Uint8Array, options?: AddOptions): Promise<AddResult>;
  /** Streamed: the file is never held whole in memory. */
  addFile(path: string, options?: AddFileOptions): Promise<AddResult>;
  cat(cid: string, options?: CatOptions): Promise<Uint8Array>;
  /** Whether the store holds the CID's root block itself (no network look-up). */
  has(cid: string): Promise<boolean>;
  close(): Promise<void>;
}

export const DEFAULT_CAT_TIMEOUT_MS = 30_000;

/**
 * Parses a CID as users paste it: bare, `ipfs://<cid>` or `/ipfs/<cid>`; throws IPFS_CID_INVALID.
 *
 * @example parseCid("ipfs://bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy").version // 1
 */
export function parseCid(text: string): CID {
  const bare = text.trim().replace(/^(ipfs:\/\/|\/ipfs\/)/, "");
  try {
    if (bare.length === 0 || bare.includes("/")) throw new Error("not a bare CID");
    return CID.parse(bare);
  } catch (e) {
    throw new ProvmarkError("IPFS_CID_INVALID", `"${text}" is not a CID`, {
      subject: text,
      cause: e,
      hints: [
        "A CID looks like Qm… (CIDv0, 46 characters) or bafy…/bafk… (CIDv1); paths inside a CID are not accepted.",
      ],
    });
  }
}
