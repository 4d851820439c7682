import type { ImporterOptions } from "ipfs-unixfs-importer";
import { ProvmarkError } from "../errors.js";

/**
 * The settings that decide which CID a file gets. They are plain data so a release manifest can
 * record them next to the CID: with the profile, anyone can re-import the artifact and check it.
 */
export type ImportProfileName = "unixfs-v1-2025" | "kubo-legacy";

export interface ImportProfile {
  readonly name: ImportProfileName;
  readonly cidVersion: 0 | 1;
  /** Leaves are raw blocks (true) or dag-pb UnixFS `file` nodes wrapping the bytes (false). */
  readonly rawLeaves: boolean;
  readonly hash: "sha2-256";
  /** Fixed-size chunks of this many bytes. */
  readonly chunkSize: number;
  /** Links per node of the balanced DAG. */
  readonly maxChildrenPerNode: number;
}

/**
 * `unixfs-v1-2025` is IPIP-499's profile of the same name (what current Kubo and Helia agree on);
 * `kubo-legacy` is what go-ipfs and Kubo produce with their defaults (`ipfs add` with no flags,
 * IPIP-499's `unixfs-v0-2015`), so CIDs already published that way can be reproduced.
 */
export const IMPORT_PROFILES: Readonly<Record<ImportProfileName, ImportProfile>> = Object.freeze({
  "unixfs-v1-2025": Object.freeze({
    name: "unixfs-v1-2025",
    cidVersion: 1,
    rawLeaves: true,
    hash: "sha2-256",
    chunkSize: 1_048_576,
    maxChildrenPerNode: 1024,
  }),
  "kubo-legacy": Object.freeze({
    name: "kubo-legacy",
    cidVersion: 0,
    rawLeaves: false,
    hash: "sha2-256",
    chunkSize: 262_144,
    maxChildrenPerNode: 174,
  }),
});

export const DEFAULT_IMPORT_PROFILE: ImportProfileName = "unixfs-v1-2025";

/**
 * The profile called `name`; throws USAGE naming the valid ones otherwise.
 *
 * @example importProfile("kubo-legacy").chunkSize // 262144
 */
export function importProfile(name: string): ImportProfile {
  if (Object.hasOwn(IMPORT_PROFILES, name)) return IMPORT_PROFILES[name as ImportProfileName];
  const valid = Object.keys(IMPORT_PROFILES).join(", ");
  throw new ProvmarkError("USAGE", `unknown import profile "${name}"; valid profiles: ${valid}`, {
    subject: name,
    hints: [`Choose one of: ${valid} (default ${DEFAULT_IMPORT_PROFILE}).`],
  });
}

/** The importer options that make @helia/unixfs / ipfs-unixfs-importer build a profile's DAG. */
export type ProfileImporterOptions = Required<
  Pick<
    ImporterOptions,
    "cidVersion" | "rawLeaves" | "leafType" | "reduceSingleLeafToSelf" | "chunker" | "layout" | "fieldOrder"
  >
>;

/**
 * Every option that changes the CID is set explicitly, so a change of the importer's defaults cannot
 * change our CIDs silently. Async because the chunker module loads rabin-wasm: importing it lazily
 * keeps profile look-ups (flag parsing, manifests) free of it.
 */
export async function importerOptions(profile: ImportProfile): Promise<ProfileImporterOptions> {
  const [{ fixedSize }, { balanced }] = await Promise.all([
    import("ipfs-unixfs-importer/chunker"),
    import("ipfs-unixfs-importer/layout"),
  ]);
  return {
    cidVersion: profile.cidVersion,
    rawLeaves: profile.rawLeaves,
    // go-ipfs's balanced builder wrapped each chunk as a UnixFS `file` node (`raw` is trickle's)
    leafType: "file",
    // a file of one chunk is that chunk's block, as Kubo does it, with no parent node
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: profile.chunkSize }),
    layout: balanced({ maxChildrenPerNode: profile.maxChildrenPerNode }),
    // dag-pb's canonical order; the importer's other choice gives other bytes, so other CIDs
    fieldOrder: "links-first",
  };
}
