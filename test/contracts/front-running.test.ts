// Attacks by a mempool watcher: it sees the owner's pending transaction and gets a copy mined first,
// either the same calldata from its own account or the same digest / name / root in its own namespace.
// Each test mines the copy first, then the owner's transaction, and shows the owner lost nothing: the
// owner's transaction succeeds and lookups keyed by the owner return the owner's record.
// docs/ledger.md ("Threat model") lists which design choice stops each attack.
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import {
  AbiCoder,
  type Contract,
  type ContractTransactionResponse,
  keccak256,
  id as labelHash,
  type TransactionRequest,
  ZeroAddress,
} from "ethers";
import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let conn: NetworkConnection;
let owner: HardhatEthersSigner;
let attacker: HardhatEthersSigner;

beforeAll(async () => {
  conn = await network.create();
  const signers = await conn.ethers.getSigners();
  [owner, attacker] = [signers[0], signers[2]] as [HardhatEthersSigner, HardhatEthersSigner];
});
afterAll(async () => {
  await conn.close();
});

const ZERO = `0x${"00".repeat(32)}`;
const NAME = labelHash("provmark/model/v1:mnist-mlp");
const V1 = labelHash("weights digest v1");
const V2 = labelHash("weights digest v2");
const CERT = labelHash("certificate v1");
const CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
const abi = AbiCoder.defaultAbiCoder();
const modelIdOf = (creator: string, nameHash: string) =>
  keccak256(abi.encode(["address", "bytes32"], [creator, nameHash]));

type Call = ((...args: unknown[]) => Promise<ContractTransactionResponse>) & {
  populateTransaction(...args: unknown[]): Promise<TransactionRequest>;
};
const tx = (c: Contract, from: HardhatEthersSigner, name: string): Call =>
  (c.connect(from) as Contract).getFunction(name) as unknown as Call;
const view = (c: Contract, name: string) => c.getFunction(name);
const mined = async (p: Promise<ContractTransactionResponse | { wait(): Promise<unknown> }>) => (await p).wait();

/** The owner's signed-but-unmined transaction, as a mempool watcher sees it: `to` and `data`. */
async function pending(c: Contract, name: string, args: unknown[]): Promise<TransactionRequest> {
  const { to, data } = await tx(c, owner, name).populateTransaction(...args);
  return { to: to ?? null, data: data ?? "0x" };
}

/** Sends `request` from `from` and returns its revert's custom-error name, or null when it was mined. */
async function copyFrom(c: Contract, from: HardhatEthersSigner, request: TransactionRequest): Promise<string | null> {
  try {
    await mined(from.sendTransaction(request));
    return null;
  } catch (e) {
    const data = (e as { data?: string }).data ?? "0x";
    return c.interface.parseError(data)?.name ?? "revert";
  }
}

describe("ProvenanceRegistry: front-running a pending registration gains the copier nothing", () => {
  it("front-running: the owner's pending digest, copied by an attacker, stays the owner's", async () => {
    const c = await conn.ethers.deployContract("ProvenanceRegistry");
    const model = modelIdOf(owner.address, NAME);
    const theirs = modelIdOf(attacker.address, NAME);
    await mined(tx(c, owner, "createModel")(NAME));
    const ownerTx = await pending(c, "registerVersion", [model, V1, ZERO, CERT, CID]);

    // 1. The same calldata from the attacker's account: it names the owner's namespace, so it reverts.
    expect(await copyFrom(c, attacker, ownerTx)).toBe("NotAuthorized");
    // 2. The same digest in the attacker's own namespace (same name, too), mined first: it succeeds...
    await mined(tx(c, attacker, "createModel")(NAME));
    await mined(tx(c, attacker, "registerVersion")(theirs, V1, ZERO, CERT, CID));
    // ...and the owner's transaction still succeeds (digests are unique per namespace, not globally).
    expect(await copyFrom(c, owner, ownerTx)).toBeNull();

    // Lookups by (owner, digest) return the owner; the copy lives only under the attacker's id.
    const [ownerOf, registeredAt] = await view(c, "getVersion")(model, V1);
    expect(ownerOf).toBe(owner.address);
    expect(registeredAt).toBeGreaterThan(0n);
    expect((await view(c, "getVersion")(theirs, V1))[0]).toBe(attacker.address);
    const logs = await c.queryFilter(c.getEvent("VersionRegistered")(model, V1));
    expect(logs.map((l) => ("args" in l ? l.args.registrant : undefined))).toEqual([owner.address]);
    // The owner keeps building on its version; the attacker's copy cannot be the parent of anything of the owner's.
    await mined(tx(c, owner, "registerVersion")(model, V2, V1, CERT, CID));
  });

  it("front-running by signature: a copier who submits the owner's signed registration first only pays its gas", async () => {
    const c = await conn.ethers.deployContract("ProvenanceRegistry");
    const model = modelIdOf(owner.address, NAME);
    await mined(tx(c, owner, "createModel")(NAME));
    const { REGISTER_VERSION_TYPES, registryDomain } = await import("../../src/ledger/register-typed-data.js");
    const deadline = BigInt((await conn.ethers.provider.getBlock("latest"))?.timestamp ?? 0) + 3600n;
    const domain = registryDomain((await conn.ethers.provider.getNetwork()).chainId, await c.getAddress());
    const signature = await owner.signTypedData(domain, REGISTER_VERSION_TYPES, {
      signer: owner.address,
      modelId: model,
      digest: V1,
      parent: ZERO,
      certificateHash: CERT,
      manifestCidHash: keccak256(new TextEncoder().encode(CID)),
      nonce: 0n,
      deadline,
    });
    const args = [model, V1, ZERO, CERT, CID, owner.address, deadline, signature];
    // The attacker copies the relayer's pending transaction: what it registers is the owner's version.
    const r = await mined(tx(c, attacker, "registerVersionBySig")(...args));
    expect(r).not.toBeNull();
    expect((await view(c, "getVersion")(model, V1))[0]).toBe(owner.address);
    const logs = await c.queryFilter(c.getEvent("VersionRegistered")(model, V1));
    expect(logs.map((l) => ("args" in l ? l.args.registrant : undefined))).toEqual([owner.address]);
  });

  it("name squatting: the owner's pending model name, created first by an attacker, stays the owner's", async () => {
    const c = await conn.ethers.deployContract("ProvenanceRegistry");
    const ownerTx = await pending(c, "createModel", [NAME]);
    // The very same calldata from the attacker creates the attacker's namespace, not the owner's.
    expect(await copyFrom(c, attacker, ownerTx)).toBeNull();
    expect(await copyFrom(c, owner, ownerTx)).toBeNull();
    const model = modelIdOf(owner.address, NAME);
    expect(await view(c, "modelOwner")(model)).toBe(owner.address);
    expect(await view(c, "modelOwner")(modelIdOf(attacker.address, NAME))).toBe(attacker.address);
    // The attacker holds no rights on the owner's namespace.
    await mined(tx(c, owner, "registerVersion")(model, V1, ZERO, CERT, CID));
    expect(await copyFrom(c, attacker, await pending(c, "revokeVersion", [model, V1, "mine now"]))).toBe(
      "NotAuthorized",
    );
    expect(await view(c, "pendingModelOwner")(model)).toBe(ZeroAddress);
  });

  it("batch roots: the owner's pending root, anchored first by an attacker, is still anchored by the owner", async () => {
    const c = await conn.ethers.deployContract("ProvenanceRegistry");
    const root = labelHash("a batch root");
    const leaf = labelHash("a leaf"); // a one-leaf tree: root = leaf, empty proof
    const ownerTx = await pending(c, "anchorBatch", [root, 4, CID]);
    const copyTx = await pending(c, "anchorBatch", [leaf, 1, CID]);
    expect(await copyFrom(c, attacker, ownerTx)).toBeNull();
    expect(await copyFrom(c, attacker, copyTx)).toBeNull();
    expect(await copyFrom(c, owner, ownerTx)).toBeNull();

    const [ownerAt, ownerCount] = await view(c, "getBatch")(owner.address, root);
    const [attackerAt] = await view(c, "getBatch")(attacker.address, root);
    expect(ownerCount).toBe(4n);
    expect(ownerAt).toBeGreaterThan(attackerAt);
    // A verifier asks about the anchorer it trusts: the attacker's anchor of `leaf` proves nothing for the owner.
    expect(await view(c, "verifyBatchRecord")(attacker.address, leaf, leaf, [])).toBe(true);
    expect(await view(c, "verifyBatchRecord")(owner.address, leaf, leaf, [])).toBe(false);
  });
});
