import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type UnixFS, unixfs } from "@helia/unixfs";
import { FsBlockstore } from "blockstore-fs";
import { FsDatastore } from "datastore-fs";
import { createHeliaLight, type Helia } from "helia";
import { fromFsError, ProvmarkError } from "../errors.js";
import {
  type AddFileOptions,
  type AddOptions,
  type AddResult,
  type ArtifactStore,
  type CatOptions,
  DEFAULT_CAT_TIMEOUT_MS,
  parseCid,
} from "./artifact-store.js";
import { type ByteSource, collectBytes, countBytes } from "./byte-streams.js";
import { notAFileError } from "./content-errors.js";
import { DEFAULT_IMPORT_PROFILE, importerOptions, importProfile } from "./profiles.js";
import { readFileSource } from "./read-file-source.js";
import { verifiedBlockstore } from "./verified-blocks.js";

/**
 * The embedded store: a Helia light node (no libp2p, no routers, no block brokers: it never touches
 * the network) over a blockstore and a datastore (pins) on disk. Creates `blockstoreDir` on first use.
 *
 * @example const store = await openHeliaStore(join(dataDir, "ipfs"))
 */
export async function openHeliaStore(blockstoreDir: string): Promise<ArtifactStore> {
  const dir = resolve(blockstoreDir);
  await mkdir(dir, { recursive: true }).catch((e: unknown) => {
    throw fromFsError(e, dir, "create");
  });
  const blockstore = new FsBlockstore(join(dir, "blocks"));
  const datastore = new FsDatastore(join(dir, "datastore"));
  try {
    // Helia starts neither store (it starts components, these only open); opening creates their dirs
    await blockstore.open();
    await datastore.open();
  } catch (e) {
    throw fromFsError(e, dir, "open");
  }
  const helia = createHeliaLight({ blockstore, datastore });
  try {
    await helia.start();
  } catch (e) {
    throw new ProvmarkError("PATH_UNREADABLE", `cannot open the IPFS blockstore at ${dir}: ${(e as Error).message}`, {
      subject: dir,
      cause: e,
      hints: ["It may have been written by another Helia version; move it aside and add the artifacts again."],
    });
  }
  return new HeliaStore(dir, helia);
}

class HeliaStore implements ArtifactStore {
  readonly kind = "helia";
  readonly location: string;
  readonly #helia: Helia;
  readonly #fs: UnixFS;

  constructor(location: string, helia: Helia) {
    this.location = location;
    this.#helia = helia;
    this.#fs = unixfs(helia);
  }

  async addBytes(bytes: Uint8Array, options: AddOptions = {}): Promise<AddResult> {
    return this.#add([bytes], options.profile, "bytes");
  }

  async addFile(path: string, options: AddFileOptions = {}): Promise<AddResult> {
    const file = await readFileSource(path, options.envelopeKey);
    try {
      return await this.#add(file.source, options.profile, path);
    } finally {
      await file.close();
    }
  }

  async #add(source: ByteSource, profileName = DEFAULT_IMPORT_PROFILE, what: string): Promise<AddResult> {
    const profile = importProfile(profileName);
    const counter = { bytes: 0 };
    try {
      const cid = await this.#fs.addByteStream(countBytes(source, counter), await importerOptions(profile));
      await this.#pin(cid);
      return { cid: cid.toString(), size: counter.bytes, profile };
    } catch (e) {
      if (e instanceof ProvmarkError) throw e;
      throw new ProvmarkError(
        "OUTPUT_WRITE_FAILED",
        `could not add ${what} to ${this.location}: ${(e as Error).message}`,
        {
          subject: this.location,
          cause: e,
          hints: ["Check free disk space and the permissions of the data directory."],
        },
      );
    }
  }

  /** Pinned blocks survive a later `helia.gc()`; adding the same content twice pins it once. */
  async #pin(cid: Parameters<Helia["pins"]["add"]>[0]): Promise<void> {
    try {
      for await (const _block of this.#helia.pins.add(cid)) {
        // the walk is the work: each yielded block is now pinned
      }
    } catch (e) {
      if ((e as Error).name !== "AlreadyPinnedError") throw e;
    }
  }

  async cat(text: string, options: CatOptions = {}): Promise<Uint8Array> {
    const cid = parseCid(text);
    const root = cid.toString();
    const timeoutMs = options.timeoutMs ?? DEFAULT_CAT_TIMEOUT_MS;
    const blocks = verifiedBlockstore(
      // offline: a light node has no one to ask, and must say so at once instead of waiting
      (c, o) => {
        const limit = AbortSignal.timeout(timeoutMs);
        const signal = o.signal ? AbortSignal.any([o.signal, limit]) : limit;
        return collectBytes(this.#helia.blockstore.get(c, { signal, offline: true }), Infinity, `block ${c}`);
      },
      { root, from: this.location },
    );
    try {
      const content = unixfs({ blockstore: blocks }).cat(cid, { offline: true });
      return await collectBytes(content, options.maxBytes ?? Infinity, root);
    } catch (e) {
      throw this.#readError(e, root, timeoutMs);
    }
  }

  #readError(e: unknown, root: string, timeoutMs: number): ProvmarkError {
    if (e instanceof ProvmarkError) return e;
    const name = (e as Error)?.name;
    if (name === "BlockNotFoundWhileOfflineError" || name === "NotFoundError") {
      return new ProvmarkError(
        "IPFS_NOT_FOUND",
        `${root} is not (or not wholly) in the blockstore at ${this.location}`,
        {
          subject: root,
          cause: e,
          hints: [
            "The embedded store holds only what was added here; check the CID.",
            "To fetch from the network, use a Kubo daemon: --ipfs-api http://127.0.0.1:5001 (or PROVMARK_IPFS_API).",
          ],
        },
      );
    }
    if (name === "TimeoutError" || name === "AbortError") {
      return new ProvmarkError(
        "IPFS_NOT_FOUND",
        `${root} could not be read from ${this.location} within ${timeoutMs} ms`,
        {
          subject: root,
          cause: e,
        },
      );
    }
    const content = notAFileError(e, root);
    if (content) return content;
    return new ProvmarkError(
      "IPFS_CONTENT_INVALID",
      `${root} could not be read as a UnixFS file: ${(e as Error).message}`,
      {
        subject: root,
        cause: e,
      },
    );
  }

  async has(text: string): Promise<boolean> {
    return this.#helia.blockstore.has(parseCid(text));
  }

  async close(): Promise<void> {
    await this.#helia.stop();
  }
}
