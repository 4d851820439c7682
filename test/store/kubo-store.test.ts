import { writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ArtifactStore } from "../../src/store/artifact-store.js";
import { openEnvelope } from "../../src/store/envelope.js";
import { openStore } from "../../src/store/open-store.js";
import type { ImportProfileName } from "../../src/store/profiles.js";
import { tempDir } from "../helpers/fixtures.js";
import { type FakeKubo, startFakeKubo } from "./fake-kubo.js";
import { rejection, seededBytes } from "./helpers.js";

const MiB = 1_048_576;

async function kubo(fake: { url: string }, timeoutMs?: number): Promise<ArtifactStore> {
  return openStore({ mode: "kubo", apiUrl: fake.url, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
}

describe("Kubo store (against a Kubo-speaking HTTP server on 127.0.0.1)", () => {
  let fake: FakeKubo;
  let embedded: ArtifactStore;
  beforeAll(async () => {
    fake = await startFakeKubo();
    embedded = await openStore({ mode: "embedded", blockstoreDir: join(await tempDir(), "ipfs") });
  });
  afterAll(async () => {
    await embedded?.close();
    await fake?.close();
  });

  it.each<[ImportProfileName, Record<string, string>]>([
    ["unixfs-v1-2025", { "cid-version": "1", "raw-leaves": "true", chunker: "size-1048576", "max-file-links": "1024" }],
    ["kubo-legacy", { "cid-version": "0", "raw-leaves": "false", chunker: "size-262144", "max-file-links": "174" }],
  ])("%s: sends every setting, gets the embedded store's CID, reads the bytes back", async (profile, query) => {
    const store = await kubo(fake);
    expect(store.location).toBe(fake.url);
    const bytes = seededBytes(2 * MiB + 999, `kubo-${profile}`);
    const added = await store.addBytes(bytes, { profile });
    expect(added.cid).toBe((await embedded.addBytes(bytes, { profile })).cid);
    expect(added.size).toBe(bytes.byteLength);
    const request = fake.requests.findLast((u) => u.pathname === "/api/v0/add");
    expect(Object.fromEntries(request?.searchParams ?? [])).toMatchObject({
      ...query,
      hash: "sha2-256",
      pin: "true",
      trickle: "false",
    });
    expect(Buffer.from(await store.cat(added.cid))).toEqual(Buffer.from(bytes));
    expect(await store.has(added.cid)).toBe(true);
    await store.close();
  });

  it("streams a file through an envelope: the daemon only ever sees ciphertext", async () => {
    const dir = await tempDir();
    const marker = Buffer.from("PLAINTEXT-MARKER-kubo");
    const plain = Buffer.concat([seededBytes(300_000, "kubo-env"), marker]);
    await writeFile(join(dir, "w.bin"), plain);
    const key = Uint8Array.from({ length: 32 }, (_, i) => 3 * i + 1);
    const store = await kubo(fake);
    const added = await store.addFile(join(dir, "w.bin"), { envelopeKey: key });
    const stored = await store.cat(added.cid);
    expect(Buffer.from(stored).includes(marker)).toBe(false);
    expect(Buffer.from(await openEnvelope(key, stored))).toEqual(plain);
    await rejection(store.addFile(join(dir, "nope.bin")), "PATH_NOT_FOUND");
  });

  it("says IPFS_UNREACHABLE, naming the URL, when nothing listens", async () => {
    const server = createServer();
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((done) => server.close(() => done()));
    const url = `http://127.0.0.1:${port}`;
    const e = await rejection(kubo({ url }), "IPFS_UNREACHABLE");
    expect(e.message).toContain(url);
    expect(e.message).toContain("ECONNREFUSED");
    expect(e.hints.join(" ")).toContain("ipfs daemon");
    await rejection(openStore({ mode: "kubo", apiUrl: "localhost:5001" }), "USAGE");
  });

  it("says a server that is not a Kubo RPC API is one (HTTP 404 to /api/v0/version)", async () => {
    const server = createServer((_req, res) => {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("404 page not found");
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const e = await rejection(kubo({ url }), "IPFS_API_ERROR");
      expect(e.message).toBe(`${url} has no /api/v0/version (HTTP 404): is it a Kubo RPC API?`);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    }
  });

  it("fails (rather than hangs) when the daemon goes away between opening and adding", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "big.bin"), seededBytes(3 * MiB, "gone"));
    const vanishing = await startFakeKubo();
    const store = await kubo(vanishing);
    await vanishing.close();
    const started = performance.now();
    await rejection(store.addFile(join(dir, "big.bin")), "IPFS_UNREACHABLE");
    await rejection(store.addBytes(seededBytes(10, "gone")), "IPFS_UNREACHABLE");
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it("passes the daemon's own error message on as IPFS_API_ERROR", async () => {
    const failing = await startFakeKubo({ fail: { op: "add", message: "cannot add: repo is read-only (fake)" } });
    try {
      const store = await kubo(failing);
      const e = await rejection(store.addBytes(seededBytes(10, "fail")), "IPFS_API_ERROR");
      expect(e.message).toContain("cannot add: repo is read-only (fake)");
      expect(e.message).toContain("HTTP 500");
      expect(e.message).toContain(failing.url);
    } finally {
      await failing.close();
    }
  });

  it("refuses a CID the daemon built with other settings than it was sent (IPFS_CONTENT_INVALID)", async () => {
    const stubborn = await startFakeKubo({ ignoreCidVersion: true });
    try {
      const store = await kubo(stubborn);
      const bytes = seededBytes(MiB + 1, "stubborn");
      const expected = (await embedded.addBytes(bytes)).cid;
      const e = await rejection(store.addBytes(bytes), "IPFS_CONTENT_INVALID");
      expect(e.message).toContain(expected);
      expect(e.message).toMatch(/ as Qm/);
    } finally {
      await stubborn.close();
    }
  });

  it("refuses blocks that do not hash to their CID (the daemon is not trusted)", async () => {
    const liar = await startFakeKubo({ corruptBlocks: true });
    try {
      const store = await kubo(liar);
      const added = await store.addBytes(seededBytes(1000, "liar"));
      await rejection(store.cat(added.cid), "IPFS_CONTENT_INVALID");
    } finally {
      await liar.close();
    }
  });

  it("gives IPFS_NOT_FOUND for content the daemon cannot find within the timeout", async () => {
    const store = await kubo(fake, 400);
    const absent = CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode("absent"))).toString();
    expect(await store.has(absent)).toBe(false);
    const started = performance.now();
    const e = await rejection(store.cat(absent), "IPFS_NOT_FOUND");
    expect(performance.now() - started).toBeLessThan(5000);
    expect(e.message).toContain(absent);
    const request = fake.requests.findLast((u) => u.pathname === "/api/v0/block/get");
    expect(request?.searchParams.get("timeout")).toBe("400ms");
  });
});
