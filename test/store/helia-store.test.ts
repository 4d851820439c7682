import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { describe, expect, it } from "vitest";
import { isEnvelope, openEnvelope } from "../../src/store/envelope.js";
import { openStore } from "../../src/store/open-store.js";
import { tempDir } from "../helpers/fixtures.js";
import { rejection, seededBytes } from "./helpers.js";

const IPFS_CID = "/usr/bin/ipfs_cid";
const DAG_PB = 0x70;
const MiB = 1_048_576;

async function embedded(dir?: string) {
  return openStore({ mode: "embedded", blockstoreDir: dir ?? join(await tempDir(), "ipfs") });
}

/** Every block file under the blockstore, with its size. */
async function blockFiles(dir: string): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  for (const entry of await readdir(join(dir, "blocks"), { recursive: true })) {
    const path = join(dir, "blocks", entry);
    const s = await stat(path);
    if (s.isFile()) out.push({ path, size: s.size });
  }
  return out;
}

describe("embedded (Helia) store", () => {
  describe.skipIf(!existsSync(IPFS_CID))("kubo-legacy CIDs equal Debian's ipfs_cid CIDv0", async () => {
    const dir = await tempDir();
    const store = await embedded(join(dir, "ipfs"));
    // 0 and 10 bytes: one leaf node; 262144: exactly one chunk; 262145: two; ~3 MiB: 13 chunks, one
    // level; 174·256 KiB + 1 = 175 chunks: the smallest file that needs a second level of links
    it.each([0, 10, 262_144, 262_145, 3 * MiB + 4321, 174 * 262_144 + 1])("%i bytes", async (n) => {
      const path = join(dir, `file-${n}`);
      await writeFile(path, seededBytes(n, `legacy-${n}`));
      const reference = JSON.parse(execFileSync(IPFS_CID, [path], { stdio: ["ignore", "pipe", "ignore"] }).toString());
      const added = await store.addFile(path, { profile: "kubo-legacy" });
      expect(added.cid).toBe(reference.CIDv0);
      expect(added.size).toBe(n);
      expect(added.profile.name).toBe("kubo-legacy");
    });
  });

  it("gives a one-chunk file the CIDv1 raw CID of its SHA-256 (unixfs-v1-2025)", async () => {
    const store = await embedded();
    const bytes = seededBytes(5000, "small");
    const expected = CID.create(1, raw.code, await sha256.digest(bytes)).toString();
    const added = await store.addBytes(bytes);
    expect(added).toMatchObject({ cid: expected, size: 5000, profile: { name: "unixfs-v1-2025", cidVersion: 1 } });
    expect(Buffer.from(await store.cat(expected))).toEqual(Buffer.from(bytes));
    await store.close();
  });

  it("stores a multi-chunk file under a dag-pb CIDv1 root and reads it back byte for byte", async () => {
    const dir = await tempDir();
    const store = await embedded(join(dir, "ipfs"));
    const bytes = seededBytes(2 * MiB + 12_345, "multi");
    await writeFile(join(dir, "weights.bin"), bytes);
    const added = await store.addFile(join(dir, "weights.bin"));
    const root = CID.parse(added.cid);
    expect(root.version).toBe(1);
    expect(root.code).toBe(DAG_PB);
    expect(added.size).toBe(bytes.byteLength);
    expect(Buffer.from(await store.cat(added.cid))).toEqual(Buffer.from(bytes));
    // three 1 MiB-or-less raw leaves and the root
    const sizes = (await blockFiles(join(dir, "ipfs"))).map((b) => b.size).sort((a, b) => b - a);
    expect(sizes.slice(0, 3)).toEqual([MiB, MiB, 12_345]);
    expect(await store.addBytes(bytes)).toMatchObject({ cid: added.cid });
    await store.close();
  });

  it("persists: content added before closing is there after reopening the directory", async () => {
    const dir = join(await tempDir(), "ipfs");
    const first = await embedded(dir);
    const added = await first.addBytes(seededBytes(300_000, "persist"), { profile: "kubo-legacy" });
    await first.close();
    const second = await embedded(dir);
    expect(await second.has(added.cid)).toBe(true);
    expect(Buffer.from(await second.cat(added.cid))).toEqual(Buffer.from(seededBytes(300_000, "persist")));
    await second.close();
  });

  it("fails fast with IPFS_NOT_FOUND for a CID it does not hold (a light node has no one to ask)", async () => {
    const store = await embedded();
    const absent = CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode("never added"))).toString();
    expect(await store.has(absent)).toBe(false);
    const started = performance.now();
    const e = await rejection(store.cat(absent), "IPFS_NOT_FOUND");
    expect(performance.now() - started).toBeLessThan(5000);
    expect(e.message).toContain(absent);
    expect(e.hints.join(" ")).toContain("--ipfs-api");
    await store.close();
  });

  it("detects a damaged block on disk: IPFS_CONTENT_INVALID, never wrong bytes", async () => {
    const dir = join(await tempDir(), "ipfs");
    const store = await embedded(dir);
    const flip = async (path: string) => {
      const bytes = await readFile(path);
      bytes[bytes.byteLength >> 1] = (bytes[bytes.byteLength >> 1] as number) ^ 0x01;
      await writeFile(path, bytes);
    };
    // a raw leaf of a multi-chunk file (default profile), and a dag-pb root that is the whole file (legacy)
    const leafy = await store.addBytes(seededBytes(MiB + 10, "corrupt-raw"));
    const before = new Set((await blockFiles(dir)).map((b) => b.path));
    const legacy = await store.addBytes(seededBytes(100, "corrupt-pb"), { profile: "kubo-legacy" });
    const added = (await blockFiles(dir)).filter((b) => !before.has(b.path));
    expect(added).toHaveLength(1);
    await flip((added[0] as { path: string }).path);
    await flip(((await blockFiles(dir)).find((b) => b.size === MiB) as { path: string }).path);
    const e = await rejection(store.cat(leafy.cid), "IPFS_CONTENT_INVALID");
    expect(e.message).toContain(leafy.cid);
    expect(e.message).toContain("does not hash to its CID");
    await rejection(store.cat(legacy.cid), "IPFS_CONTENT_INVALID");
    await store.close();
  });

  it("stores only ciphertext when given an envelope key", async () => {
    const dir = await tempDir();
    const store = await embedded(join(dir, "ipfs"));
    const key = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
    const marker = Buffer.from("PLAINTEXT-MARKER-provmark-weights");
    const plain = Buffer.concat([marker, seededBytes(150_000, "env"), marker]);
    await writeFile(join(dir, "secret.bin"), plain);
    const added = await store.addFile(join(dir, "secret.bin"), { envelopeKey: key });
    const stored = await store.cat(added.cid);
    expect(added.size).toBe(stored.byteLength);
    expect(isEnvelope(stored)).toBe(true);
    expect(Buffer.from(stored).includes(marker)).toBe(false);
    for (const { path } of await blockFiles(join(dir, "ipfs"))) {
      expect((await readFile(path)).includes(marker)).toBe(false);
    }
    expect(Buffer.from(await openEnvelope(key, stored))).toEqual(plain);
    await store.close();
  });

  it("maps bad input to stable codes", async () => {
    const dir = await tempDir();
    const store = await embedded(join(dir, "ipfs"));
    await rejection(store.addFile(join(dir, "missing.bin")), "PATH_NOT_FOUND");
    await mkdir(join(dir, "a-dir"));
    await rejection(store.addFile(join(dir, "a-dir")), "PATH_UNREADABLE");
    await rejection(store.cat("not-a-cid"), "IPFS_CID_INVALID");
    await rejection(store.addBytes(new Uint8Array(1), { profile: "bogus" as "kubo-legacy" }), "USAGE");
    await rejection(store.addFile(join(dir, "missing.bin"), { envelopeKey: new Uint8Array(8) }), "PATH_NOT_FOUND");
    await writeFile(join(dir, "f"), "x");
    await rejection(store.addFile(join(dir, "f"), { envelopeKey: new Uint8Array(8) }), "USAGE");
    const big = await store.addBytes(seededBytes(10_000, "max"));
    await rejection(store.cat(big.cid, { maxBytes: 9_999 }), "IPFS_CONTENT_INVALID");
    expect((await store.cat(big.cid, { maxBytes: 10_000 })).byteLength).toBe(10_000);
    await store.close();
  });
});
