import { BrowserProvider, HDNodeWallet, Mnemonic, Network, Wallet } from "ethers";
import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RELEASE_MANIFEST_SCHEMA, type ReleaseManifest } from "../../src/core/release-manifest.js";
import { isProvmarkError } from "../../src/errors.js";
import { deployRegistry } from "../../src/ledger/deploy.js";
import { modelIdOf, RegistryClient, toBytes32 } from "../../src/ledger/registry-client.js";
import { buildBatch } from "../../src/release/batch-anchor.js";

const MNEMONIC = Mnemonic.fromPhrase("test test test test test test test test test test test junk");
const devWallet = (i: number) => new Wallet(HDNodeWallet.fromMnemonic(MNEMONIC, `m/44'/60'/0'/0/${i}`).privateKey);

let conn: NetworkConnection;
let provider: BrowserProvider;
let owner: RegistryClient;
let attacker: RegistryClient;
let reader: RegistryClient;

const digest = (n: number) => toBytes32(n.toString(16).padStart(64, "0"));
const model = modelIdOf(devWallet(0).address, "classifier");

async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (!isProvmarkError(e)) throw e;
    return { code: e.code, message: e.message };
  }
  throw new Error("expected a rejection");
}

beforeAll(async () => {
  conn = await network.create();
  provider = new BrowserProvider(conn.provider as never, Network.from(31337n), {
    pollingInterval: 20,
    cacheTimeout: -1,
  });
  const deployer = devWallet(0).connect(provider);
  const d = await deployRegistry(deployer, provider, { confirmations: 1, rpc: "test", txTimeoutMs: 30_000 });
  const client = (w: Wallet | BrowserProvider) =>
    new RegistryClient({
      address: d.address,
      runner: w instanceof Wallet ? w.connect(provider) : w,
      fromBlock: d.blockNumber,
      rpc: "in-process",
    });
  owner = client(devWallet(0));
  attacker = client(devWallet(2));
  reader = client(provider);
});

afterAll(async () => {
  provider?.destroy();
  await conn?.close();
});

describe("RegistryClient", () => {
  it("creates the namespace once, registers a lineage and reads it back from storage and logs", async () => {
    expect(await owner.modelOwner(model)).toBeNull();
    expect((await owner.ensureModel("classifier")).created).not.toBeNull();
    expect(await owner.ensureModel("classifier")).toEqual({ modelId: model, created: null });
    const root = await owner.register({
      modelId: model,
      digest: digest(1),
      parent: null,
      certificateHash: digest(99),
      manifestCid: "bafyroot",
    });
    const child = await owner.register({
      modelId: model,
      digest: digest(2),
      parent: digest(1),
      certificateHash: null,
      manifestCid: "bafychild",
    });
    expect(child.blockNumber).toBeGreaterThan(root.blockNumber);
    expect(child.timestamp).toBeGreaterThanOrEqual(root.timestamp);

    const rec = await reader.version(model, digest(2));
    expect(rec).toMatchObject({
      digest: digest(2),
      modelId: model,
      owner: devWallet(0).address,
      parent: digest(1),
      certificateHash: null,
      manifestCid: "bafychild",
      registrant: devWallet(0).address,
      registeredAt: child.timestamp,
      revokedAt: null,
      txHash: child.txHash,
      blockNumber: child.blockNumber,
    });
    expect((await reader.lineage(model, digest(2))).map((v) => v.digest)).toEqual([digest(2), digest(1)]);
    expect((await reader.versionsOf(model)).map((v) => v.manifestCid)).toEqual(["bafyroot", "bafychild"]);
    expect(await reader.version(model, digest(3))).toBeNull();
    expect((await reader.registrations(digest(2))).map((v) => v.modelId)).toEqual([model]);
    expect(await reader.modelsNamed("classifier")).toEqual([{ modelId: model, creator: devWallet(0).address }]);
  });

  it("decodes every rejection into a coded error", async () => {
    const dup = await rejection(
      owner.register({ modelId: model, digest: digest(1), parent: null, certificateHash: null, manifestCid: "x" }),
    );
    expect(dup.code).toBe("REGISTRY_DUPLICATE_DIGEST");
    expect(dup.message).toContain(digest(1));
    expect(
      (
        await rejection(
          owner.register({
            modelId: model,
            digest: digest(5),
            parent: digest(77),
            certificateHash: null,
            manifestCid: "x",
          }),
        )
      ).code,
    ).toBe("REGISTRY_UNKNOWN_PARENT");
    const denied = await rejection(
      attacker.register({ modelId: model, digest: digest(6), parent: null, certificateHash: null, manifestCid: "x" }),
    );
    expect(denied.code).toBe("REGISTRY_NOT_AUTHORIZED");
    expect(denied.message).toContain(devWallet(2).address);
    expect((await rejection(attacker.revoke(model, digest(1), "mine now"))).code).toBe("REGISTRY_NOT_AUTHORIZED");
    expect((await rejection(owner.revoke(model, digest(42), "no such"))).code).toBe("REGISTRY_UNKNOWN_VERSION");
    const mismatch = await rejection(owner.fileClaim(model, digest(1), "x", "y", digest(98)));
    expect(mismatch.code).toBe("REGISTRY_CERTIFICATE_MISMATCH");
  });

  it("revocation is visible with its reason, once, and blocks new children", async () => {
    const r = await owner.revoke(model, digest(2), "leaked training data");
    const rec = await reader.version(model, digest(2));
    expect(rec?.revokedAt).toBe(r.timestamp);
    expect(rec?.revocationReason).toBe("leaked training data");
    expect(rec?.revoker).toBe(devWallet(0).address);
    expect((await reader.versionsOf(model)).find((v) => v.digest === digest(2))?.revocationReason).toBe(
      "leaked training data",
    );
    expect((await rejection(owner.revoke(model, digest(2), "again"))).code).toBe("REGISTRY_ALREADY_REVOKED");
    expect(
      (
        await rejection(
          owner.register({
            modelId: model,
            digest: digest(7),
            parent: digest(2),
            certificateHash: null,
            manifestCid: "x",
          }),
        )
      ).code,
    ).toBe("REGISTRY_REVOKED_PARENT");
  });

  it("a batch built off-chain verifies on chain for every record, and not for a forged one", async () => {
    const manifest = (i: number, parent: string | null): ReleaseManifest => ({
      schema: RELEASE_MANIFEST_SCHEMA,
      name: "nightly",
      version: `2026.11.${i}`,
      createdAt: "2026-11-22T00:00:00.000Z",
      tool: "provmark test",
      model: {
        format: null,
        filesDigest: i.toString(16).padStart(64, "a"),
        weightsDigest: null,
        totalBytes: 0,
        files: [],
      },
      parent,
      certificate: null,
      metadata: { license: null, trainingData: [], description: null, extra: {} },
      ipfs: {
        importSettings: {
          name: "unixfs-v1-2025",
          cidVersion: 1,
          rawLeaves: true,
          hash: "sha2-256",
          chunkSize: 1048576,
          maxChildrenPerNode: 1024,
        },
        artifacts: [],
      },
    });
    const manifests = [1, 2, 3, 4, 5].map((i) => manifest(i, i > 1 ? (i - 1).toString(16).padStart(64, "a") : null));
    const doc = buildBatch(
      manifests,
      manifests.map((_, i) => `bafy${i}`),
      new Date("2026-11-22T00:00:00Z"),
      devWallet(0).address,
    );
    await owner.anchorBatch(doc.root, doc.count, "bafybatch");
    const anchorer = devWallet(0).address;
    expect((await reader.getBatch(anchorer, doc.root))?.count).toBe(5);
    expect(await reader.getBatch(devWallet(2).address, doc.root)).toBeNull();
    for (const r of doc.records) {
      expect(await reader.verifyBatchRecord(anchorer, doc.root, r.leaf, r.proof)).toBe(true);
    }
    const first = doc.records[0];
    const second = doc.records[1];
    if (!first || !second) throw new Error("records missing");
    expect(await reader.verifyBatchRecord(anchorer, doc.root, first.leaf, second.proof)).toBe(false);
    // the off-chain leaf is exactly the contract's batchLeaf
    const [modelId, d, parent, cert] = first.values;
    const { Contract } = await import("ethers");
    const { PROVENANCE_REGISTRY_ABI } = await import("../../src/ledger/generated/provenance-registry.js");
    const c = new Contract(owner.address, PROVENANCE_REGISTRY_ABI, provider);
    expect(await c.getFunction("batchLeaf")(modelId, d, parent, cert)).toBe(first.leaf);
    expect((await rejection(owner.anchorBatch(doc.root, 5, "again"))).code).toBe("REGISTRY_REVERTED");
  });
});
