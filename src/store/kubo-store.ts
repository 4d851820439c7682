import { unixfs } from "@helia/unixfs";
import { create, type AddOptions as KuboAddOptions, type KuboRPCClient } from "kubo-rpc-client";
import type { CID } from "multiformats/cid";
import { ProvmarkError } from "../errors.js";
import {
  type AddFileOptions,
  type AddOptions,
  type AddResult,
  type ArtifactStore,
  type CatOptions,
  DEFAULT_CAT_TIMEOUT_MS,
  parseCid,
} from "./artifact-store.js";
import { type ByteSource, collectBytes, countBytes, teeBytes } from "./byte-streams.js";
import { notAFileError } from "./content-errors.js";
import { kuboError } from "./kubo-errors.js";
import { localCid } from "./local-cid.js";
import { DEFAULT_IMPORT_PROFILE, type ImportProfile, importProfile } from "./profiles.js";
import { readFileSource } from "./read-file-source.js";
import { verifiedBlockstore } from "./verified-blocks.js";

/** How long opening waits for the daemon's version answer before calling it unreachable. */
const PROBE_TIMEOUT_MS = 10_000;

/**
 * A store on a Kubo daemon, through its RPC API. Opening asks the daemon's version, so a wrong URL
 * fails here (IPFS_UNREACHABLE) rather than halfway through a release.
 *
 * @example const store = await openKuboStore("http://127.0.0.1:5001", { timeoutMs: 60_000 })
 */
export async function openKuboStore(apiUrl: string, options: { timeoutMs?: number } = {}): Promise<ArtifactStore> {
  let url: URL;
  try {
    url = new URL(apiUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`unsupported protocol ${url.protocol}`);
  } catch (e) {
    throw new ProvmarkError("USAGE", `--ipfs-api must be an http(s) URL, got "${apiUrl}"`, {
      subject: "--ipfs-api",
      cause: e,
      hints: ["Kubo's RPC API listens on http://127.0.0.1:5001 by default."],
    });
  }
  const location = url.href.replace(/\/$/, "");
  const store = new KuboStore(location, create({ url }), options.timeoutMs ?? DEFAULT_CAT_TIMEOUT_MS);
  await store.probe();
  return store;
}

class KuboStore implements ArtifactStore {
  readonly kind = "kubo";
  readonly location: string;
  readonly #client: KuboRPCClient;
  readonly #timeoutMs: number;

  constructor(location: string, client: KuboRPCClient, timeoutMs: number) {
    this.location = location;
    this.#client = client;
    this.#timeoutMs = timeoutMs;
  }

  async probe(): Promise<void> {
    const timeoutMs = Math.min(this.#timeoutMs, PROBE_TIMEOUT_MS);
    try {
      await this.#client.version({ signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      throw kuboError(e, { url: this.location, op: "version", timeoutMs });
    }
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

  /**
   * Sends the bytes to the daemon and, from the same single read, computes their CID here under the
   * same profile: a daemon that ignored a setting (an old Kubo, an Import.* config it preferred)
   * gives another CID, which is refused rather than recorded.
   */
  async #add(source: ByteSource, profileName = DEFAULT_IMPORT_PROFILE, what: string): Promise<AddResult> {
    const profile = importProfile(profileName);
    const counter = { bytes: 0 };
    const tee = teeBytes(countBytes(source, counter));
    const [upload, local] = tee.branches;
    const [sent, computed] = await Promise.allSettled([
      this.#client.add({ content: upload }, kuboAddOptions(profile)).catch((e: unknown) => {
        tee.abort(e as Error);
        throw e;
      }),
      localCid(local, profile).catch((e: unknown) => {
        tee.abort(e as Error);
        throw e;
      }),
    ]);
    // an unreadable file or a bad envelope key fails both branches; its own error says what happened
    for (const r of [computed, sent]) {
      if (r.status === "rejected" && r.reason instanceof ProvmarkError) throw r.reason;
    }
    if (sent.status === "rejected") throw kuboError(sent.reason, { url: this.location, op: "add" });
    if (computed.status === "rejected") throw computed.reason;
    const daemonCid = sent.value.cid;
    if (!daemonCid.equals(computed.value))
      throw settingsIgnored(this.location, what, profile, daemonCid, computed.value);
    return { cid: daemonCid.toString(), size: counter.bytes, profile };
  }

  async cat(text: string, options: CatOptions = {}): Promise<Uint8Array> {
    const cid = parseCid(text);
    const root = cid.toString();
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    // blocks, not /cat: each one is checked against its CID here, so the daemon need not be trusted
    const blocks = verifiedBlockstore(
      (c, o) =>
        this.#client.block.get(c, {
          signal: o.signal
            ? AbortSignal.any([o.signal, AbortSignal.timeout(timeoutMs)])
            : AbortSignal.timeout(timeoutMs),
          // the daemon stops searching the network at the same time as we stop waiting
          timeout: timeoutMs,
        }),
      { root, from: this.location },
    );
    try {
      return await collectBytes(unixfs({ blockstore: blocks }).cat(cid), options.maxBytes ?? Infinity, root);
    } catch (e) {
      throw notAFileError(e, root) ?? kuboError(e, { url: this.location, op: "block/get", cid: root, timeoutMs });
    }
  }

  async has(text: string): Promise<boolean> {
    const cid = parseCid(text);
    const timeoutMs = Math.min(this.#timeoutMs, PROBE_TIMEOUT_MS);
    try {
      // offline: "does the daemon hold it", not "can it find it"
      const options = { offline: true, signal: AbortSignal.timeout(timeoutMs) };
      await this.#client.block.stat(cid, options);
      return true;
    } catch (e) {
      if ((e as Error).name === "HTTPError" && /not found|could not find/i.test((e as Error).message)) return false;
      throw kuboError(e, { url: this.location, op: "block/stat", timeoutMs });
    }
  }

  async close(): Promise<void> {
    // the client holds no resources beyond keep-alive sockets, which the runtime reaps
  }
}

/** Every setting that shapes the DAG is sent, so the daemon's Import.* config cannot fill any in. */
function kuboAddOptions(profile: ImportProfile): KuboAddOptions & { maxFileLinks: number; inline: boolean } {
  return {
    cidVersion: profile.cidVersion,
    rawLeaves: profile.rawLeaves,
    chunker: `size-${profile.chunkSize}`,
    hashAlg: profile.hash,
    // Kubo ≥ 0.35 (`max-file-links`); older daemons ignore unknown options, which the CID check catches
    maxFileLinks: profile.maxChildrenPerNode,
    trickle: false,
    inline: false,
    wrapWithDirectory: false,
    pin: true,
  };
}

function settingsIgnored(url: string, what: string, profile: ImportProfile, got: CID, expected: CID): ProvmarkError {
  return new ProvmarkError(
    "IPFS_CONTENT_INVALID",
    `the Kubo daemon at ${url} stored ${what} as ${got}, but the ${profile.name} profile gives ${expected}: ` +
      "the daemon did not apply the import settings it was sent",
    {
      subject: url,
      hints: [
        "Check the daemon's version (`ipfs version`) and its Import.* settings (`ipfs config Import`).",
        // Kubo's own default is 174 links, so only a profile asking for more is at risk from old daemons
        ...(profile.maxChildrenPerNode === 174
          ? []
          : [
              `Kubo older than 0.35 ignores max-file-links: files over ${profile.chunkSize * 174} bytes get other CIDs; ` +
                "upgrade Kubo, or use the embedded store.",
            ]),
      ],
    },
  );
}
