import { createHash } from "node:crypto";
import type { UnixFSComponents } from "@helia/unixfs";
import type { CID } from "multiformats/cid";
import { ProvmarkError } from "../errors.js";

const IDENTITY = 0x00;
const SHA2_256 = 0x12;

/** Where blocks come from, for messages: the root being read and the store serving it. */
export interface BlockContext {
  root: string;
  from: string;
}

/**
 * Throws IPFS_CONTENT_INVALID unless `bytes` hash to the CID's multihash. Neither a local blockstore
 * nor a daemon checks this on read, so a flipped bit on disk or a lying server would otherwise reach
 * the caller as content.
 */
export function verifyBlock(cid: CID, bytes: Uint8Array, context: BlockContext): void {
  const { code, digest } = cid.multihash;
  let actual: Uint8Array;
  if (code === SHA2_256) actual = createHash("sha256").update(bytes).digest();
  else if (code === IDENTITY) actual = bytes;
  else {
    throw new ProvmarkError(
      "IPFS_CONTENT_INVALID",
      `block ${cid} of ${context.root} uses hash function 0x${code.toString(16)}; provmark verifies sha2-256 only`,
      { subject: context.root, hints: ["Add the content again with a provmark import profile (sha2-256)."] },
    );
  }
  if (!Buffer.from(actual).equals(digest)) {
    throw new ProvmarkError(
      "IPFS_CONTENT_INVALID",
      `block ${cid} of ${context.root} from ${context.from} does not hash to its CID: the stored copy is damaged or was altered`,
      {
        subject: context.root,
        hints: [
          "Do not use this content. Re-add the artifact from its original file, or fetch it from another source.",
        ],
      },
    );
  }
}

export type BlockReader = (cid: CID, options: { signal?: AbortSignal }) => Promise<Uint8Array>;

/** A read-only blockstore for the unixfs exporter that verifies every block before it is decoded. */
export function verifiedBlockstore(read: BlockReader, context: BlockContext): UnixFSComponents["blockstore"] {
  return {
    async *get(cid, options = {}) {
      const bytes = await read(cid, options.signal ? { signal: options.signal } : {});
      verifyBlock(cid, bytes, context);
      yield bytes;
    },
    async has() {
      throw new Error("verifiedBlockstore is read-only: has() is not used by cat");
    },
    async put() {
      throw new Error("verifiedBlockstore is read-only");
    },
  };
}
