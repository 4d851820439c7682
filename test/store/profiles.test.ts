import { describe, expect, it } from "vitest";
import { parseCid } from "../../src/store/artifact-store.js";
import { localCid } from "../../src/store/local-cid.js";
import { DEFAULT_IMPORT_PROFILE, IMPORT_PROFILES, importerOptions, importProfile } from "../../src/store/profiles.js";
import { rejection } from "./helpers.js";

describe("import profiles", () => {
  it("are the documented, serialisable settings", () => {
    expect(DEFAULT_IMPORT_PROFILE).toBe("unixfs-v1-2025");
    expect(JSON.parse(JSON.stringify(IMPORT_PROFILES))).toEqual({
      "unixfs-v1-2025": {
        name: "unixfs-v1-2025",
        cidVersion: 1,
        rawLeaves: true,
        hash: "sha2-256",
        chunkSize: 1_048_576,
        maxChildrenPerNode: 1024,
      },
      "kubo-legacy": {
        name: "kubo-legacy",
        cidVersion: 0,
        rawLeaves: false,
        hash: "sha2-256",
        chunkSize: 262_144,
        maxChildrenPerNode: 174,
      },
    });
    expect(Object.isFrozen(IMPORT_PROFILES["kubo-legacy"])).toBe(true);
  });

  it("looks profiles up by name and lists the valid ones otherwise", async () => {
    expect(importProfile("kubo-legacy")).toBe(IMPORT_PROFILES["kubo-legacy"]);
    const e = await rejection(
      Promise.resolve().then(() => importProfile("unixfs-v0")),
      "USAGE",
    );
    expect(e.message).toContain("unixfs-v1-2025, kubo-legacy");
    expect(() => importProfile("toString")).toThrow(expect.objectContaining({ code: "USAGE" }));
  });

  it("maps a profile to explicit importer options", async () => {
    const legacy = await importerOptions(IMPORT_PROFILES["kubo-legacy"]);
    expect(legacy).toMatchObject({
      cidVersion: 0,
      rawLeaves: false,
      leafType: "file",
      reduceSingleLeafToSelf: true,
      fieldOrder: "links-first",
    });
    expect(typeof legacy.chunker).toBe("function");
    expect(typeof legacy.layout).toBe("function");
  });

  it("computes CIDs without storing anything (known answers from go-ipfs)", async () => {
    // the empty file's CIDv0 and "hello\n" (echo hello | ipfs add), both well known
    expect((await localCid([], IMPORT_PROFILES["kubo-legacy"])).toString()).toBe(
      "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH",
    );
    expect((await localCid([new TextEncoder().encode("hello\n")], IMPORT_PROFILES["kubo-legacy"])).toString()).toBe(
      "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN",
    );
  });
});

describe("parseCid", () => {
  it("accepts bare CIDs and ipfs:// or /ipfs/ forms", () => {
    const v1 = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
    expect(parseCid(v1).toString()).toBe(v1);
    expect(parseCid(`ipfs://${v1}`).toString()).toBe(v1);
    expect(parseCid(` /ipfs/${v1}\n`).toString()).toBe(v1);
    expect(parseCid("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH").version).toBe(0);
  });

  it.each(["", "hello", "Qm123", `bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy/file`])(
    "refuses %j with IPFS_CID_INVALID",
    async (text) => {
      const e = await rejection(
        Promise.resolve().then(() => parseCid(text)),
        "IPFS_CID_INVALID",
      );
      expect(e.message).toContain(JSON.stringify(text));
    },
  );
});
