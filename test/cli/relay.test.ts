import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Wallet } from "ethers";
import { beforeAll, describe, expect, it } from "vitest";
import { isProvmarkError } from "../../src/errors.js";
import { deployRegistry } from "../../src/ledger/deploy.js";
import { DEV_ACCOUNT_KEYS } from "../../src/ledger/embedded/index.js";
import { openLedger } from "../../src/ledger/open-ledger.js";
import { RegistryClient } from "../../src/ledger/registry-client.js";
import { parseRelayRequest, type RelayRequest } from "../../src/ledger/relay-request.js";
import { provmark } from "../helpers/cli.js";
import { tempDir, writeFakeModel } from "../helpers/fixtures.js";

// The owner signs (no gas, nothing sent); a relayer with its own funded key submits.
const owner = new Wallet(DEV_ACCOUNT_KEYS[5] as string);
const relayer = new Wallet(DEV_ACCOUNT_KEYS[6] as string);
let home: string;
let models: string;
const env = (key: string) => ({ PROVMARK_RPC_URL: "", PROVMARK_IPFS_API: "", PROVMARK_PRIVATE_KEY: key });
const as = (key: string, args: string[]) => provmark(["--data-dir", home, ...args, "--json"], { env: env(key) });
const journalLines = async () =>
  (await readFile(join(home, "chain", "journal.jsonl"), "utf8")).trim().split("\n").length;
const balance = async (address: string) => {
  const ledger = await openLedger({ dataDir: home, rpcUrl: "", access: "read" });
  try {
    return await ledger.provider.getBalance(address);
  } finally {
    await ledger.close();
  }
};
const errorOf = (r: { stdout: string }) => JSON.parse(r.stdout).error?.code;

async function model(name: string, fill: number): Promise<string> {
  const dir = join(models, name);
  await writeFakeModel(dir, [{ name: "d/kernel", shape: [6, 4], bytes: new Uint8Array(96).fill(fill) }]);
  return dir;
}

async function signOnly(dir: string, out: string, extra: string[] = []) {
  const r = await as(owner.privateKey, [
    "register",
    "--model",
    dir,
    "--name",
    "relayed",
    "--sign-only",
    "--out",
    out,
    ...extra,
  ]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

async function edit(from: string, to: string, f: (r: RelayRequest) => void): Promise<string> {
  const r = JSON.parse(await readFile(from, "utf8")) as RelayRequest;
  f(r);
  await writeFile(to, JSON.stringify(r));
  return to;
}

let baseDigest: string;
beforeAll(async () => {
  home = await tempDir();
  models = await tempDir();
  // the owner creates its namespace once, paying gas (registerVersionBySig does not create one)
  const r = await as(owner.privateKey, ["register", "--model", await model("base", 1), "--name", "relayed"]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  baseDigest = JSON.parse(r.stdout).digest;
});

describe("register --sign-only → relay", () => {
  it("the relayer pays; the owner is registrant and namespace; nothing is sent by signing", async () => {
    const dir = await model("v2", 2);
    const file = join(models, "v2.request.json");
    const lines = await journalLines();
    const ownerBefore = await balance(owner.address);
    const signed = await signOnly(dir, file, ["--parent", baseDigest, "--valid-for", "2h"]);
    expect(signed).toMatchObject({ owner: owner.address, signer: owner.address, nonce: "0" });
    expect(await journalLines()).toBe(lines);
    const req = parseRelayRequest(await readFile(file, "utf8"), file);
    expect(req.typedData.message).toMatchObject({ signer: owner.address, modelId: signed.modelId });
    expect(req.typedData.domain.chainId).toBe("31337");

    const relayed = await as(relayer.privateKey, ["relay", file]);
    expect(relayed.code, relayed.stdout + relayed.stderr).toBe(0);
    const out = JSON.parse(relayed.stdout);
    expect(out).toMatchObject({ signer: owner.address, owner: owner.address, relayer: relayer.address });
    expect(await balance(owner.address)).toBe(ownerBefore);

    const check = JSON.parse((await as(relayer.privateKey, ["check", dir, "--owner", owner.address])).stdout);
    expect(check).toMatchObject({ status: "registered", owner: owner.address, registrant: owner.address });
    expect(check.lineage.map((v: { digest: string }) => v.digest)).toEqual([signed.digest, baseDigest]);
  });

  it("replaying the same signed request is refused (RELAY_NONCE_USED), nothing journaled", async () => {
    const lines = await journalLines();
    const again = await as(relayer.privateKey, ["relay", join(models, "v2.request.json")]);
    expect(again.code).toBe(2);
    expect(errorOf(again)).toBe("RELAY_NONCE_USED");
    expect(await journalLines()).toBe(lines);
  });

  it("a relayer altering the digest, parent or manifest of the request is refused", async () => {
    const file = join(models, "v3.request.json");
    await signOnly(await model("v3", 3), file);
    const lines = await journalLines();
    const cases: [string, (r: RelayRequest) => void, string][] = [
      [
        "digest",
        (r) => Object.assign(r.typedData.message, { digest: `0x${"ab".repeat(32)}` }),
        "RELAY_SIGNATURE_INVALID",
      ],
      ["parent", (r) => Object.assign(r.typedData.message, { parent: `0x${baseDigest}` }), "RELAY_SIGNATURE_INVALID"],
      ["manifest CID alone", (r) => Object.assign(r, { manifestCid: "bafyevil" }), "RELAY_REQUEST_INVALID"],
      ["signer", (r) => Object.assign(r.typedData.message, { signer: relayer.address }), "RELAY_SIGNATURE_INVALID"],
      ["chain", (r) => Object.assign(r.typedData.domain, { chainId: "1" }), "RELAY_WRONG_CHAIN"],
      ["expired", (r) => Object.assign(r.typedData.message, { deadline: "1000" }), "RELAY_SIGNATURE_EXPIRED"],
    ];
    for (const [what, f, code] of cases) {
      const r = await as(relayer.privateKey, ["relay", await edit(file, join(models, `bad-${what}.json`), f)]);
      expect([what, errorOf(r)]).toEqual([what, code]);
      expect(r.code).toBe(2);
    }
    expect(await journalLines()).toBe(lines);
    // the untouched request still goes through
    expect((await as(relayer.privateKey, ["relay", file])).code).toBe(0);
  });

  it("a consistent manifest swap (CID + its hash) is caught by the signature", async () => {
    const file = join(models, "v4.request.json");
    await signOnly(await model("v4", 4), file);
    const { keccak256, toUtf8Bytes } = await import("ethers");
    const swapped = await edit(file, join(models, "v4-swapped.json"), (r) => {
      r.manifestCid = "bafyevil";
      r.typedData.message.manifestCidHash = keccak256(toUtf8Bytes("bafyevil"));
    });
    const r = await as(relayer.privateKey, ["relay", swapped]);
    expect(errorOf(r)).toBe("RELAY_SIGNATURE_INVALID");
  });

  it("submitting to another registry is refused, by provmark and by the contract; so is an altered digest", async () => {
    const file = join(models, "v4.request.json");
    const req = parseRelayRequest(await readFile(file, "utf8"), file);
    const ledger = await openLedger({ dataDir: home, rpcUrl: "", access: "write" });
    let other: string;
    try {
      other = (
        await deployRegistry(new Wallet(DEV_ACCOUNT_KEYS[0] as string, ledger.provider), ledger.provider, {
          confirmations: 1,
          rpc: "test",
          txTimeoutMs: 60_000,
        })
      ).address;
      const m = req.typedData.message;
      const submit = (address: string, digest: string) =>
        new RegistryClient({
          address,
          runner: relayer.connect(ledger.provider),
          fromBlock: 0,
          rpc: "test",
        }).registerBySig({
          modelId: m.modelId,
          digest,
          parent: null,
          certificateHash: null,
          manifestCid: req.manifestCid,
          signer: m.signer,
          deadline: BigInt(m.deadline),
          signature: req.signature,
        });
      // a relayer skipping provmark's checks: the contract's own EIP-712 check refuses (decoded)
      const rejected = (e: unknown) =>
        isProvmarkError(e, "REGISTRY_SIGNATURE_REJECTED") && e.subject === "InvalidSignature";
      await expect(submit(other, m.digest)).rejects.toSatisfy(rejected);
      await expect(submit(req.typedData.domain.verifyingContract, `0x${"cd".repeat(32)}`)).rejects.toSatisfy(rejected);
    } finally {
      await ledger.close();
    }
    const r = await as(relayer.privateKey, ["relay", file, "--registry", other]);
    expect(r.code).toBe(2);
    expect(errorOf(r)).toBe("RELAY_WRONG_REGISTRY");
    expect((await as(relayer.privateKey, ["relay", file])).code).toBe(0);
  });

  it("refuses a malformed request file and --sign-only without --out", async () => {
    const bad = join(models, "junk.json");
    await writeFile(bad, JSON.stringify({ schema: "provmark/relay-request/v1", typedData: {} }));
    const r = await as(relayer.privateKey, ["relay", bad]);
    expect(r.code).toBe(2);
    expect(errorOf(r)).toBe("RELAY_REQUEST_INVALID");
    const noOut = await as(owner.privateKey, ["register", "--model", join(models, "v4"), "--sign-only"]);
    expect(errorOf(noOut)).toBe("USAGE");
  });
});
