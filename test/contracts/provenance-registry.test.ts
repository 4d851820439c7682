import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import {
  AbiCoder,
  type Contract,
  type ContractTransactionResponse,
  keccak256,
  type LogDescription,
  id as labelHash,
  TypedDataEncoder,
  toUtf8Bytes,
  ZeroAddress,
} from "ethers";
import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REGISTER_VERSION_TYPES, registryDomain } from "../../src/ledger/register-typed-data.js";

let conn: NetworkConnection;
let owner: HardhatEthersSigner;
let maintainer: HardhatEthersSigner;
let attacker: HardhatEthersSigner;
let relayer: HardhatEthersSigner;
let newOwner: HardhatEthersSigner;
let walletOwner: HardhatEthersSigner;

beforeAll(async () => {
  conn = await network.create();
  const signers = await conn.ethers.getSigners();
  const pick = (i: number) => {
    const s = signers[i];
    if (s === undefined) throw new Error(`no signer #${i}`);
    return s;
  };
  [owner, maintainer, attacker, relayer, newOwner, walletOwner] = [0, 1, 2, 3, 4, 5].map(pick) as [
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
  ];
  MODEL = modelIdOf(owner.address, NAME);
  OTHER_MODEL = modelIdOf(attacker.address, OTHER_NAME);
});
afterAll(async () => {
  await conn.close();
});

const ZERO = `0x${"00".repeat(32)}`;
const ZERO20 = `0x${"00".repeat(20)}`;
const NAME = labelHash("provmark/model/v1:mnist-mlp");
const OTHER_NAME = labelHash("provmark/model/v1:resnet");
const V1 = labelHash("weights digest v1");
const V2 = labelHash("weights digest v2");
const V3 = labelHash("weights digest v3");
const CERT1 = labelHash("certificate v1");
const CERT2 = labelHash("certificate v2");
const CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
const abi = AbiCoder.defaultAbiCoder();
/** The namespace `creator` gets for `nameHash`: the contract's modelIdOf. */
const modelIdOf = (creator: string, nameHash: string) =>
  keccak256(abi.encode(["address", "bytes32"], [creator, nameHash]));
/** What storage keeps of a certificate hash: 160 bits of its hash. */
const tag = (certificateHash: string) => keccak256(abi.encode(["bytes32"], [certificateHash])).slice(0, 42);
/** owner's NAME namespace and attacker's OTHER_NAME namespace. */
let MODEL: string;
let OTHER_MODEL: string;

type Call = (...args: unknown[]) => Promise<ContractTransactionResponse>;
/** `c.<name>(...args)` sent by `from`. */
const tx = (c: Contract, from: HardhatEthersSigner, name: string): Call =>
  (c.connect(from) as Contract).getFunction(name) as unknown as Call;
const view = (c: Contract, name: string) => c.getFunction(name);

async function mined(p: Promise<ContractTransactionResponse>) {
  const receipt = await (await p).wait();
  if (receipt === null) throw new Error("no receipt");
  const block = await conn.ethers.provider.getBlock(receipt.blockNumber);
  if (block === null) throw new Error("no block");
  return { receipt, timestamp: BigInt(block.timestamp) };
}

function eventsOf(c: Contract, logs: readonly { topics: readonly string[]; data: string }[], name: string) {
  return logs
    .map((l) => c.interface.parseLog({ topics: [...l.topics], data: l.data }))
    .filter((l): l is LogDescription => l !== null && l.name === name);
}

/** Awaits `p`, which must revert with custom error `name` of `c`; checks its arguments when given. */
async function expectRevert(c: Contract, p: Promise<unknown>, name: string, args?: unknown[]) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e as { data?: string },
  );
  if (err === undefined) throw new Error(`expected ${name}, but the transaction succeeded`);
  expect(err.data, "revert data").toMatch(/^0x[0-9a-f]{8}/);
  const decoded = c.interface.parseError(err.data ?? "0x");
  expect(decoded?.name).toBe(name);
  if (args !== undefined) expect([...(decoded?.args ?? [])]).toEqual(args);
}

/** A fresh registry with MODEL owned by `owner` and OTHER_MODEL owned by `attacker`. */
async function deploy(): Promise<Contract> {
  const c = await conn.ethers.deployContract("ProvenanceRegistry");
  await mined(tx(c, owner, "createModel")(NAME));
  await mined(tx(c, attacker, "createModel")(OTHER_NAME));
  return c;
}

const register = (c: Contract, from: HardhatEthersSigner, digest: string, parent = ZERO, model = MODEL) =>
  tx(c, from, "registerVersion")(model, digest, parent, CERT1, CID);

describe("ProvenanceRegistry: models and versions", () => {
  it("creates a model, registers v1 (root) and v2 (child of v1), and stores and logs the lineage", async () => {
    const c = await deploy();
    expect(await view(c, "modelOwner")(MODEL)).toBe(owner.address);
    expect(await view(c, "modelIdOf")(owner.address, NAME)).toBe(MODEL);
    expect(await view(c, "modelOwner")(labelHash("nope"))).toBe(ZeroAddress);
    await expectRevert(c, tx(c, owner, "createModel")(NAME), "ModelExists", [MODEL]);
    await expectRevert(c, tx(c, owner, "createModel")(ZERO), "ZeroName");

    const r1 = await mined(tx(c, owner, "registerVersion")(MODEL, V1, ZERO, CERT1, CID));
    const r2 = await mined(tx(c, owner, "registerVersion")(MODEL, V2, V1, CERT2, `${CID}-v2`));
    expect(r2.timestamp).toBeGreaterThan(r1.timestamp);

    expect([...(await view(c, "getVersion")(MODEL, V1))]).toEqual([owner.address, r1.timestamp, 0n, tag(CERT1)]);
    expect([...(await view(c, "getVersion")(MODEL, V2))]).toEqual([owner.address, r2.timestamp, 0n, tag(CERT2)]);
    expect([...(await view(c, "getVersion")(MODEL, V3))]).toEqual([ZeroAddress, 0n, 0n, ZERO20]);
    expect([...(await view(c, "getVersion")(OTHER_MODEL, V1))]).toEqual([ZeroAddress, 0n, 0n, ZERO20]);

    const [e1] = eventsOf(c, r1.receipt.logs, "VersionRegistered");
    const [e2] = eventsOf(c, r2.receipt.logs, "VersionRegistered");
    expect(e1?.args.toObject()).toEqual({
      modelId: MODEL,
      digest: V1,
      parent: ZERO,
      certificateHash: CERT1,
      manifestCid: CID,
      registrant: owner.address,
      registeredAt: r1.timestamp,
    });
    expect(e2?.args.toObject()).toEqual({
      modelId: MODEL,
      digest: V2,
      parent: V1,
      certificateHash: CERT2,
      manifestCid: `${CID}-v2`,
      registrant: owner.address,
      registeredAt: r2.timestamp,
    });

    // Lineage from logs: children of V1 by the indexed `parent` topic, parent of V2 by the `digest` topic.
    const children = await c.queryFilter(c.getEvent("VersionRegistered")(null, null, V1));
    expect(children.map((l) => ("args" in l ? l.args.digest : undefined))).toEqual([V2]);
    const ofV2 = await c.queryFilter(c.getEvent("VersionRegistered")(null, V2));
    expect(ofV2.map((l) => ("args" in l ? l.args.parent : undefined))).toEqual([V1]);
  });

  it("rejects the zero digest, unknown models, duplicates (per namespace), unknown/foreign/revoked parents", async () => {
    const c = await deploy();
    await expectRevert(c, register(c, owner, ZERO), "ZeroDigest");
    await expectRevert(c, register(c, owner, V1, ZERO, labelHash("no such model")), "UnknownModel", [
      labelHash("no such model"),
    ]);
    const { timestamp } = await mined(register(c, owner, V1));
    await expectRevert(c, register(c, owner, V1), "DuplicateDigest", [MODEL, V1, timestamp]);
    await expectRevert(c, register(c, owner, V2, V3), "UnknownParent", [V3]);
    await expectRevert(c, register(c, owner, V2, V2), "UnknownParent", [V2]);

    // A parent is looked up in the version's own namespace: another model's version is unknown there.
    await mined(register(c, attacker, V3, ZERO, OTHER_MODEL));
    await expectRevert(c, register(c, owner, V2, V3), "UnknownParent", [V3]);
    await expectRevert(c, register(c, attacker, V2, V1, OTHER_MODEL), "UnknownParent", [V1]);

    await mined(tx(c, owner, "revokeVersion")(MODEL, V1, "leaked"));
    await expectRevert(c, register(c, owner, V2, V1), "RevokedParent", [V1]);
    // None of the failures above wrote anything.
    expect((await view(c, "getVersion")(MODEL, V2))[1]).toBe(0n);
    expect((await view(c, "getVersion")(OTHER_MODEL, V2))[1]).toBe(0n);
  });

  it("only the owner or a maintainer registers; a maintainer loses the right when revoked", async () => {
    const c = await deploy();
    await expectRevert(c, register(c, attacker, V1), "NotAuthorized", [MODEL, attacker.address]);
    await expectRevert(c, register(c, maintainer, V1), "NotAuthorized", [MODEL, maintainer.address]);
    await expectRevert(c, tx(c, attacker, "setMaintainer")(MODEL, attacker.address, true), "NotAuthorized", [
      MODEL,
      attacker.address,
    ]);
    expect(await view(c, "isMaintainer")(MODEL, attacker.address)).toBe(false);

    const grant = await mined(tx(c, owner, "setMaintainer")(MODEL, maintainer.address, true));
    expect(eventsOf(c, grant.receipt.logs, "MaintainerSet")[0]?.args.toObject()).toEqual({
      modelId: MODEL,
      account: maintainer.address,
      allowed: true,
    });
    expect(await view(c, "isMaintainer")(MODEL, maintainer.address)).toBe(true);
    expect(await view(c, "isMaintainer")(OTHER_MODEL, maintainer.address)).toBe(false);
    const r = await mined(register(c, maintainer, V1));
    expect([...(await view(c, "getVersion")(MODEL, V1))]).toEqual([owner.address, r.timestamp, 0n, tag(CERT1)]);
    expect(eventsOf(c, r.receipt.logs, "VersionRegistered")[0]?.args.registrant).toBe(maintainer.address);
    // A maintainer of MODEL has no rights on OTHER_MODEL.
    await expectRevert(c, register(c, maintainer, V2, ZERO, OTHER_MODEL), "NotAuthorized", [
      OTHER_MODEL,
      maintainer.address,
    ]);
    // Maintainers cannot manage maintainers.
    await expectRevert(c, tx(c, maintainer, "setMaintainer")(MODEL, attacker.address, true), "NotAuthorized", [
      MODEL,
      maintainer.address,
    ]);

    await mined(tx(c, owner, "setMaintainer")(MODEL, maintainer.address, false));
    expect(await view(c, "isMaintainer")(MODEL, maintainer.address)).toBe(false);
    await expectRevert(c, register(c, maintainer, V2, V1), "NotAuthorized", [MODEL, maintainer.address]);
  });

  it("revokes once, never deletes, and only for the model's owner or maintainers", async () => {
    const c = await deploy();
    const reg = await mined(register(c, owner, V1));
    await expectRevert(c, tx(c, attacker, "revokeVersion")(MODEL, V1, "mine now"), "NotAuthorized", [
      MODEL,
      attacker.address,
    ]);
    await expectRevert(c, tx(c, owner, "revokeVersion")(MODEL, V2, "x"), "UnknownVersion", [MODEL, V2]);
    await expectRevert(c, tx(c, attacker, "revokeVersion")(OTHER_MODEL, V1, "x"), "UnknownVersion", [OTHER_MODEL, V1]);

    await mined(tx(c, owner, "setMaintainer")(MODEL, maintainer.address, true));
    const rev = await mined(tx(c, maintainer, "revokeVersion")(MODEL, V1, "weights leaked"));
    expect(eventsOf(c, rev.receipt.logs, "VersionRevoked")[0]?.args.toObject()).toEqual({
      modelId: MODEL,
      digest: V1,
      revoker: maintainer.address,
      reason: "weights leaked",
      revokedAt: rev.timestamp,
    });
    expect([...(await view(c, "getVersion")(MODEL, V1))]).toEqual([
      owner.address,
      reg.timestamp,
      rev.timestamp,
      tag(CERT1),
    ]);
    await expectRevert(c, tx(c, owner, "revokeVersion")(MODEL, V1, "again"), "AlreadyRevoked", [
      MODEL,
      V1,
      rev.timestamp,
    ]);
    // Revoked stays registered: the digest can never be reused in this namespace.
    await expectRevert(c, register(c, owner, V1), "DuplicateDigest", [MODEL, V1, reg.timestamp]);
    // A model's revocations are found by its id topic, without scanning every revocation.
    await mined(register(c, attacker, V1, ZERO, OTHER_MODEL));
    await mined(tx(c, attacker, "revokeVersion")(OTHER_MODEL, V1, "other model"));
    const ofModel = await c.queryFilter(c.getEvent("VersionRevoked")(MODEL));
    expect(ofModel.map((l) => ("args" in l ? l.args.reason : undefined))).toEqual(["weights leaked"]);
    const byRevoker = await c.queryFilter(c.getEvent("VersionRevoked")(null, null, attacker.address));
    expect(byRevoker.map((l) => ("args" in l ? l.args.modelId : undefined))).toEqual([OTHER_MODEL]);
  });

  it("transfers model ownership in two steps; the old owner and its maintainers lose their rights", async () => {
    const c = await deploy();
    await mined(tx(c, owner, "setMaintainer")(MODEL, maintainer.address, true));
    await mined(tx(c, owner, "setMaintainer")(MODEL, owner.address, true)); // an old owner's back door
    await expectRevert(c, tx(c, attacker, "transferModelOwnership")(MODEL, attacker.address), "NotAuthorized", [
      MODEL,
      attacker.address,
    ]);
    await expectRevert(c, tx(c, maintainer, "transferModelOwnership")(MODEL, maintainer.address), "NotAuthorized", [
      MODEL,
      maintainer.address,
    ]);

    const start = await mined(tx(c, owner, "transferModelOwnership")(MODEL, newOwner.address));
    expect(eventsOf(c, start.receipt.logs, "ModelOwnershipTransferStarted")[0]?.args.toObject()).toEqual({
      modelId: MODEL,
      owner: owner.address,
      pendingOwner: newOwner.address,
    });
    expect(await view(c, "pendingModelOwner")(MODEL)).toBe(newOwner.address);
    // Until accepted, nothing changes.
    expect(await view(c, "modelOwner")(MODEL)).toBe(owner.address);
    await expectRevert(c, register(c, newOwner, V1), "NotAuthorized", [MODEL, newOwner.address]);
    await expectRevert(c, tx(c, attacker, "acceptModelOwnership")(MODEL), "NotPendingOwner", [MODEL, attacker.address]);
    await expectRevert(c, tx(c, owner, "acceptModelOwnership")(MODEL), "NotPendingOwner", [MODEL, owner.address]);
    await expectRevert(c, tx(c, newOwner, "acceptModelOwnership")(OTHER_MODEL), "NotPendingOwner", [
      OTHER_MODEL,
      newOwner.address,
    ]);

    const accept = await mined(tx(c, newOwner, "acceptModelOwnership")(MODEL));
    expect(eventsOf(c, accept.receipt.logs, "ModelOwnershipTransferred")[0]?.args.toObject()).toEqual({
      modelId: MODEL,
      previousOwner: owner.address,
      newOwner: newOwner.address,
    });
    expect(await view(c, "modelOwner")(MODEL)).toBe(newOwner.address);
    expect(await view(c, "pendingModelOwner")(MODEL)).toBe(ZeroAddress);
    await expectRevert(c, tx(c, newOwner, "acceptModelOwnership")(MODEL), "NotPendingOwner", [MODEL, newOwner.address]);

    // Old owner and every maintainer granted before the transfer are out.
    expect(await view(c, "isMaintainer")(MODEL, maintainer.address)).toBe(false);
    expect(await view(c, "isMaintainer")(MODEL, owner.address)).toBe(false);
    await expectRevert(c, register(c, owner, V1), "NotAuthorized", [MODEL, owner.address]);
    await expectRevert(c, register(c, maintainer, V1), "NotAuthorized", [MODEL, maintainer.address]);
    await expectRevert(c, tx(c, owner, "setMaintainer")(MODEL, owner.address, true), "NotAuthorized", [
      MODEL,
      owner.address,
    ]);
    await expectRevert(c, tx(c, owner, "transferModelOwnership")(MODEL, owner.address), "NotAuthorized", [
      MODEL,
      owner.address,
    ]);
    const r = await mined(register(c, newOwner, V1));
    expect([...(await view(c, "getVersion")(MODEL, V1))]).toEqual([newOwner.address, r.timestamp, 0n, tag(CERT1)]);

    // A pending transfer can be cancelled by setting the zero address.
    await mined(tx(c, newOwner, "transferModelOwnership")(MODEL, attacker.address));
    await mined(tx(c, newOwner, "transferModelOwnership")(MODEL, ZeroAddress));
    await expectRevert(c, tx(c, attacker, "acceptModelOwnership")(MODEL), "NotPendingOwner", [MODEL, attacker.address]);
  });
});

describe("ProvenanceRegistry: EIP-712 registration by signature", () => {
  const types = REGISTER_VERSION_TYPES;
  type Req = { modelId: string; digest: string; parent: string; cid: string; deadline: bigint };

  async function domain(c: Contract, chainId?: bigint) {
    return registryDomain(chainId ?? (await conn.ethers.provider.getNetwork()).chainId, await c.getAddress());
  }
  async function sign(
    c: Contract,
    by: HardhatEthersSigner,
    nonceOf: string,
    req: Req,
    opts: { chainId?: bigint; nonce?: bigint } = {},
  ) {
    const nonce = opts.nonce ?? ((await view(c, "nonces")(nonceOf)) as bigint);
    return by.signTypedData(await domain(c, opts.chainId), types, {
      signer: nonceOf,
      modelId: req.modelId,
      digest: req.digest,
      parent: req.parent,
      certificateHash: CERT1,
      manifestCidHash: keccak256(toUtf8Bytes(req.cid)),
      nonce,
      deadline: req.deadline,
    });
  }
  const submit = (c: Contract, req: Req, signer: string, signature: string) =>
    tx(c, relayer, "registerVersionBySig")(
      req.modelId,
      req.digest,
      req.parent,
      CERT1,
      req.cid,
      signer,
      req.deadline,
      signature,
    );
  async function farDeadline() {
    const latest = await conn.ethers.provider.getBlock("latest");
    return BigInt(latest?.timestamp ?? 0) + 3600n;
  }

  it("lets a relayer register with the owner's signature; the signer is the registrant; no replay", async () => {
    const c = await deploy();
    expect(await view(c, "DOMAIN_SEPARATOR")()).toBe(TypedDataEncoder.hashDomain(await domain(c)));
    const req: Req = { modelId: MODEL, digest: V1, parent: ZERO, cid: CID, deadline: await farDeadline() };
    const sig = await sign(c, owner, owner.address, req);
    expect(await view(c, "nonces")(owner.address)).toBe(0n);
    const r = await mined(submit(c, req, owner.address, sig));
    expect(r.receipt.from).toBe(relayer.address);
    expect([...(await view(c, "getVersion")(MODEL, V1))]).toEqual([owner.address, r.timestamp, 0n, tag(CERT1)]);
    expect(eventsOf(c, r.receipt.logs, "VersionRegistered")[0]?.args.registrant).toBe(owner.address);
    expect(await view(c, "nonces")(owner.address)).toBe(1n);

    // Replaying the same signature: the nonce it was made for is used up.
    await expectRevert(c, submit(c, req, owner.address, sig), "InvalidSignature", [owner.address]);
    // Replaying it for a different digest (the relayer tampers with a field) fails too.
    await expectRevert(c, submit(c, { ...req, digest: V2 }, owner.address, sig), "InvalidSignature", [owner.address]);
    // A signature made ahead of time for a future nonce does not verify now...
    const req2: Req = { ...req, digest: V2, parent: V1 };
    const early = await sign(c, owner, owner.address, req2, { nonce: 2n });
    await expectRevert(c, submit(c, req2, owner.address, early), "InvalidSignature", [owner.address]);
    // ...and failed attempts do not consume nonces: a signature for nonce 1 still works.
    expect(await view(c, "nonces")(owner.address)).toBe(1n);
    await mined(submit(c, req2, owner.address, await sign(c, owner, owner.address, req2)));
    expect(await view(c, "nonces")(owner.address)).toBe(2n);
  });

  it("rejects expired deadlines, wrong chain ids, tampered fields, and non-maintainer signers", async () => {
    const c = await deploy();
    const latest = BigInt((await conn.ethers.provider.getBlock("latest"))?.timestamp ?? 0);
    const t = latest + 100n;
    const expired: Req = { modelId: MODEL, digest: V1, parent: ZERO, cid: CID, deadline: t - 1n };
    const sigExpired = await sign(c, owner, owner.address, expired);
    await conn.ethers.provider.send("evm_setNextBlockTimestamp", [Number(t)]);
    await expectRevert(c, submit(c, expired, owner.address, sigExpired), "ExpiredSignature", [t - 1n]);

    // The deadline itself is still valid.
    const onTime: Req = { ...expired, deadline: t + 10n };
    await conn.ethers.provider.send("evm_setNextBlockTimestamp", [Number(t + 10n)]);
    await mined(submit(c, onTime, owner.address, await sign(c, owner, owner.address, onTime)));

    const req: Req = { modelId: MODEL, digest: V2, parent: V1, cid: CID, deadline: await farDeadline() };
    const wrongChain = await sign(c, owner, owner.address, req, { chainId: 1n });
    await expectRevert(c, submit(c, req, owner.address, wrongChain), "InvalidSignature", [owner.address]);
    const good = await sign(c, owner, owner.address, req);
    await expectRevert(c, submit(c, { ...req, cid: `${CID}x` }, owner.address, good), "InvalidSignature", [
      owner.address,
    ]);
    await expectRevert(c, submit(c, { ...req, parent: ZERO }, owner.address, good), "InvalidSignature", [
      owner.address,
    ]);
    // The attacker signs but claims to be the owner.
    const forged = await sign(c, attacker, owner.address, req);
    await expectRevert(c, submit(c, req, owner.address, forged), "InvalidSignature", [owner.address]);
    await expectRevert(c, submit(c, req, ZeroAddress, "0x"), "InvalidSignature", [ZeroAddress]);
    // The attacker signs honestly as itself: valid signature, but no rights on MODEL.
    const own = await sign(c, attacker, attacker.address, req);
    await expectRevert(c, submit(c, req, attacker.address, own), "NotAuthorized", [MODEL, attacker.address]);
    // The owner's untampered signature still works after all that.
    await mined(submit(c, req, owner.address, good));
    expect((await view(c, "getVersion")(MODEL, V2))[1]).toBeGreaterThan(0n);
  });

  it("accepts ERC-1271 signatures from a contract wallet made maintainer", async () => {
    const c = await deploy();
    const wallet = await conn.ethers.deployContract("MockERC1271Wallet", [walletOwner.address]);
    const walletAddr = await wallet.getAddress();
    const req: Req = { modelId: MODEL, digest: V1, parent: ZERO, cid: CID, deadline: await farDeadline() };
    const sig = await sign(c, walletOwner, walletAddr, req);
    await expectRevert(c, submit(c, req, walletAddr, sig), "NotAuthorized", [MODEL, walletAddr]);

    await mined(tx(c, owner, "setMaintainer")(MODEL, walletAddr, true));
    // Signed by an EOA that does not control the wallet: the wallet says no.
    const stranger = await sign(c, attacker, walletAddr, req);
    await expectRevert(c, submit(c, req, walletAddr, stranger), "InvalidSignature", [walletAddr]);

    const r = await mined(submit(c, req, walletAddr, sig));
    expect([...(await view(c, "getVersion")(MODEL, V1))]).toEqual([owner.address, r.timestamp, 0n, tag(CERT1)]);
    expect(eventsOf(c, r.receipt.logs, "VersionRegistered")[0]?.args.registrant).toBe(walletAddr);
    expect(await view(c, "nonces")(walletAddr)).toBe(1n);
    await expectRevert(c, submit(c, req, walletAddr, sig), "InvalidSignature", [walletAddr]);
  });

  it("binds the signer: a signature for one wallet cannot register as another wallet with the same owner key", async () => {
    const c = await deploy();
    const a = await (await conn.ethers.deployContract("MockERC1271Wallet", [walletOwner.address])).getAddress();
    const b = await (await conn.ethers.deployContract("MockERC1271Wallet", [walletOwner.address])).getAddress();
    await mined(tx(c, owner, "setMaintainer")(MODEL, a, true));
    await mined(tx(c, owner, "setMaintainer")(MODEL, b, true));
    const req: Req = { modelId: MODEL, digest: V1, parent: ZERO, cid: CID, deadline: await farDeadline() };
    const forA = await sign(c, walletOwner, a, req);
    await expectRevert(c, submit(c, req, b, forA), "InvalidSignature", [b]);
    const r = await mined(submit(c, req, a, forA));
    expect(eventsOf(c, r.receipt.logs, "VersionRegistered")[0]?.args.registrant).toBe(a);
  });
});

describe("ProvenanceRegistry: Merkle batch anchoring", () => {
  const hashPair = (a: string, b: string) =>
    keccak256(BigInt(a) < BigInt(b) ? `${a}${b.slice(2)}` : `${b}${a.slice(2)}`);
  const leafOf = (r: readonly [string, string, string, string]) =>
    keccak256(keccak256(abi.encode(["bytes32", "bytes32", "bytes32", "bytes32"], r)));

  /** A complete binary tree over a power-of-two number of leaves, hashed like OpenZeppelin MerkleProof. */
  function buildTree(leaves: string[]) {
    const levels = [leaves];
    for (let level = leaves; level.length > 1; ) {
      const next: string[] = [];
      for (let i = 0; i < level.length; i += 2) next.push(hashPair(level[i] as string, level[i + 1] as string));
      levels.push(next);
      level = next;
    }
    const proof = (index: number) => levels.slice(0, -1).map((level, depth) => level[(index >> depth) ^ 1] as string);
    return { root: levels.at(-1)?.[0] as string, proof };
  }

  // Leaves are built when the file loads, before the signers (and so MODEL) exist: any model id will do.
  const BATCH_MODEL = modelIdOf("0x000000000000000000000000000000000000b0b0", NAME);
  const records = Array.from({ length: 1024 }, (_, i) => {
    const digest = labelHash(`batch version ${i}`);
    const parent = i === 0 ? ZERO : labelHash(`batch version ${i - 1}`);
    return [BATCH_MODEL, digest, parent, labelHash(`batch certificate ${i}`)] as const;
  });
  const leaves = records.map(leafOf);
  const tree = buildTree(leaves);

  it("anchors a 1024-record root, verifies proofs, rejects tampered proofs and duplicates", async () => {
    const c = await deploy();
    expect(await view(c, "batchLeaf")(...(records[7] ?? []))).toBe(leaves[7]);
    // Before anchoring, even a correct proof does not verify.
    expect(await view(c, "verifyBatchRecord")(attacker.address, tree.root, leaves[0], tree.proof(0))).toBe(false);

    const r = await mined(tx(c, attacker, "anchorBatch")(tree.root, 1024, CID));
    expect(eventsOf(c, r.receipt.logs, "BatchAnchored")[0]?.args.toObject()).toEqual({
      root: tree.root,
      anchorer: attacker.address,
      count: 1024n,
      manifestCid: CID,
      anchoredAt: r.timestamp,
    });
    expect([...(await view(c, "getBatch")(attacker.address, tree.root))]).toEqual([r.timestamp, 1024n]);
    expect([...(await view(c, "getBatch")(owner.address, tree.root))]).toEqual([0n, 0n]);
    // Anchored by the attacker, not by the owner: a verifier asking about the owner's anchor gets false.
    expect(await view(c, "verifyBatchRecord")(owner.address, tree.root, leaves[0], tree.proof(0))).toBe(false);
    expect(r.receipt.gasUsed).toBeLessThanOrEqual(1024n * 100n);

    for (const i of [0, 1, 2, 511, 512, 1022, 1023]) {
      expect(tree.proof(i)).toHaveLength(10);
      expect(await view(c, "verifyBatchRecord")(attacker.address, tree.root, leaves[i], tree.proof(i))).toBe(true);
    }
    // Tampered proof element, wrong leaf, a changed record field, a proof for another index, a short proof.
    const p5 = tree.proof(5);
    const tampered = [...p5.slice(0, 3), labelHash("evil"), ...p5.slice(4)];
    expect(await view(c, "verifyBatchRecord")(attacker.address, tree.root, leaves[5], tampered)).toBe(false);
    expect(await view(c, "verifyBatchRecord")(attacker.address, tree.root, leaves[6], p5)).toBe(false);
    const [m, d, p] = records[5] ?? [];
    const forgedLeaf = leafOf([m ?? ZERO, d ?? ZERO, p ?? ZERO, labelHash("forged certificate")]);
    expect(await view(c, "verifyBatchRecord")(attacker.address, tree.root, forgedLeaf, p5)).toBe(false);
    expect(await view(c, "verifyBatchRecord")(attacker.address, tree.root, leaves[5], p5.slice(0, 9))).toBe(false);
    // The leaf encoding is the double hash: a single-hashed record does not verify.
    const singleHashed = keccak256(abi.encode(["bytes32", "bytes32", "bytes32", "bytes32"], records[5] ?? []));
    expect(await view(c, "verifyBatchRecord")(attacker.address, tree.root, singleHashed, p5)).toBe(false);

    await expectRevert(c, tx(c, attacker, "anchorBatch")(tree.root, 1024, CID), "DuplicateBatch", [
      attacker.address,
      tree.root,
    ]);
    await expectRevert(c, tx(c, owner, "anchorBatch")(labelHash("r"), 0, CID), "EmptyBatch");
    await expectRevert(c, tx(c, owner, "anchorBatch")(ZERO, 1, CID), "ZeroRoot");
  });
});

describe("ProvenanceRegistry: claims", () => {
  it("files claims for registered versions only, by the model's owner or maintainers; the log names the filer", async () => {
    const c = await deploy();
    await mined(register(c, owner, V1));
    await expectRevert(
      c,
      tx(c, owner, "fileClaim")(MODEL, V2, "hf.co/thief/model", "bafyevidence", CERT1),
      "UnknownVersion",
      [MODEL, V2],
    );
    await expectRevert(c, tx(c, attacker, "fileClaim")(MODEL, V1, "x", "y", CERT1), "NotAuthorized", [
      MODEL,
      attacker.address,
    ]);
    const r1 = await mined(tx(c, owner, "fileClaim")(MODEL, V1, "hf.co/thief/model", "bafyevidence", CERT1));
    expect(eventsOf(c, r1.receipt.logs, "ClaimFiled")[0]?.args.toObject()).toEqual({
      modelId: MODEL,
      digest: V1,
      filer: owner.address,
      claimId: 1n,
      suspectRef: "hf.co/thief/model",
      evidenceCid: "bafyevidence",
      certificateHash: CERT1,
      filedAt: r1.timestamp,
    });
    await mined(tx(c, owner, "setMaintainer")(MODEL, maintainer.address, true));
    const r2 = await mined(tx(c, maintainer, "fileClaim")(MODEL, V1, "ipfs://suspect", "bafyother", CERT1));
    expect(eventsOf(c, r2.receipt.logs, "ClaimFiled")[0]?.args.toObject()).toMatchObject({
      claimId: 2n,
      filer: maintainer.address,
    });
    expect(await view(c, "claimCount")()).toBe(2n);
    const byFiler = await c.queryFilter(c.getEvent("ClaimFiled")(null, null, maintainer.address));
    expect(byFiler.map((l) => ("args" in l ? l.args.claimId : undefined))).toEqual([2n]);
  });

  it("refuses a claim citing a certificate other than the version's own", async () => {
    const c = await deploy();
    await mined(register(c, owner, V1)); // registered with CERT1
    await expectRevert(c, tx(c, owner, "fileClaim")(MODEL, V1, "x", "y", CERT2), "CertificateMismatch", [
      MODEL,
      V1,
      CERT2,
    ]);
    await expectRevert(c, tx(c, owner, "fileClaim")(MODEL, V1, "x", "y", ZERO), "CertificateMismatch", [
      MODEL,
      V1,
      ZERO,
    ]);
    // A version registered without a certificate only takes claims citing none.
    await mined(tx(c, owner, "registerVersion")(MODEL, V2, V1, ZERO, CID));
    await expectRevert(c, tx(c, owner, "fileClaim")(MODEL, V2, "x", "y", CERT1), "CertificateMismatch", [
      MODEL,
      V2,
      CERT1,
    ]);
    await mined(tx(c, owner, "fileClaim")(MODEL, V2, "x", "y", ZERO));
    expect(await view(c, "claimCount")()).toBe(1n);
  });
});

describe("ProvenanceRegistry: gas and size targets", () => {
  it("registerVersion with a parent and a 59-char CID costs <= 60,000 gas; runtime < 24,576 bytes", async () => {
    const c = await deploy();
    expect(CID).toHaveLength(59);
    await mined(register(c, owner, V1));
    const { receipt } = await mined(tx(c, owner, "registerVersion")(MODEL, V2, V1, CERT2, CID));
    expect(receipt.gasUsed).toBeLessThanOrEqual(60_000n);
    const code = await conn.ethers.provider.getCode(await c.getAddress());
    expect((code.length - 2) / 2).toBeGreaterThan(1000);
    expect((code.length - 2) / 2).toBeLessThan(24_576);
  });
});
