import type { CID } from "multiformats/cid";
import type { ByteSource } from "./byte-streams.js";
import { type ImportProfile, importerOptions } from "./profiles.js";

/**
 * The CID a byte stream gets under a profile, computed here: blocks are hashed and dropped, so any
 * size runs in constant memory. Used to check that a daemon honoured the settings it was sent.
 */
export async function localCid(source: ByteSource, profile: ImportProfile): Promise<CID> {
  const [{ unixfs }, options] = await Promise.all([import("@helia/unixfs"), importerOptions(profile)]);
  const discard = unixfs({
    blockstore: {
      put: async (cid) => cid,
      has: async () => false,
      // biome-ignore lint/correctness/useYield: adding never reads a block back
      async *get() {
        throw new Error("localCid keeps no blocks");
      },
    },
  });
  return discard.addByteStream(source, options);
}
