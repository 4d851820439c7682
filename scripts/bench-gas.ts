/**
 * `npx tsx scripts/bench-gas.ts`: deploys ProvenanceRegistry on Hardhat's in-process network and measures
 * the gas used (receipt.gasUsed, i.e. including the 21,000 base cost and calldata) of its main
 * transactions, the cost of anchoring a 1024-record Merkle batch, and the deployed runtime bytecode size.
 * Prints a table, then one JSON line. Exits 1 if a target is missed:
 *   registerVersion (with a parent, 59-char CIDv1) <= 60,000 gas; anchorBatch <= 100 gas per version at
 *   N = 1024; runtime bytecode < 24,576 bytes (EIP-170).
 */

import { fileURLToPath } from "node:url";
import { type Contract, type ContractTransactionResponse, keccak256, id as labelHash, toUtf8Bytes } from "ethers";
import { REGISTER_VERSION_TYPES, registryDomain } from "../src/ledger/register-typed-data.js";

process.env.HARDHAT_CONFIG ??= fileURLToPath(new URL("../hardhat.config.ts", import.meta.url));
process.env.CI ??= "true";
const { default: hre, network } = await import("hardhat");
await hre.tasks.getTask("build").run({ quiet: true });

const conn = await network.create();
const { ethers } = conn;
const signers = await ethers.getSigners();
const signer = (i: number) => {
  const s = signers[i];
  if (s === undefined) throw new Error(`no signer #${i}`);
  return s;
};
const [owner, maintainer, relayer, anchorer] = [signer(0), signer(1), signer(2), signer(3)];

const CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"; // 59-char CIDv1 (raw, base32)
const ZERO = `0x${"00".repeat(32)}`;
const NAME = labelHash("provmark/model/v1:mnist-mlp");
const N = 1024;
const v = (i: number) => labelHash(`bench weights digest ${i}`);
const cert = (i: number) => labelHash(`bench certificate ${i}`);

type Call = (...args: unknown[]) => Promise<ContractTransactionResponse>;
const tx = (c: Contract, from: typeof owner, name: string) =>
  (c.connect(from) as Contract).getFunction(name) as unknown as Call;
async function gas(p: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await p).wait();
  if (receipt === null || receipt.status !== 1) throw new Error("transaction failed");
  return Number(receipt.gasUsed);
}

const registry = await ethers.deployContract("ProvenanceRegistry");
const address = await registry.getAddress();
const runtimeBytes = (await ethers.provider.getCode(address)).length / 2 - 1;

const MODEL = (await registry.getFunction("modelIdOf")(owner.address, NAME)) as string;
const createModel = await gas(tx(registry, owner, "createModel")(NAME));
const registerRoot = await gas(tx(registry, owner, "registerVersion")(MODEL, v(1), ZERO, cert(1), CID));
const registerWithParent = await gas(tx(registry, owner, "registerVersion")(MODEL, v(2), v(1), cert(2), CID));
await gas(tx(registry, owner, "setMaintainer")(MODEL, maintainer.address, true));
const registerByMaintainer = await gas(tx(registry, maintainer, "registerVersion")(MODEL, v(3), v(2), cert(3), CID));

const { chainId } = await ethers.provider.getNetwork();
const domain = registryDomain(chainId, address);
const types = REGISTER_VERSION_TYPES;
async function bySig(i: number, parent: string): Promise<number> {
  const nonce = (await registry.getFunction("nonces")(owner.address)) as bigint;
  const deadline = BigInt((await ethers.provider.getBlock("latest"))?.timestamp ?? 0) + 3600n;
  const message = {
    signer: owner.address,
    modelId: MODEL,
    digest: v(i),
    parent,
    certificateHash: cert(i),
    manifestCidHash: keccak256(toUtf8Bytes(CID)),
    nonce,
    deadline,
  };
  const signature = await owner.signTypedData(domain, types, message);
  const call = tx(registry, relayer, "registerVersionBySig");
  return gas(call(MODEL, v(i), parent, cert(i), CID, owner.address, deadline, signature));
}
const bySigFirstNonce = await bySig(4, v(3)); // the signer's nonce slot goes 0 -> 1 (a fresh slot)
const bySigLaterNonce = await bySig(5, v(4));

const revoke = await gas(tx(registry, owner, "revokeVersion")(MODEL, v(5), "superseded: weights leaked"));
const claim = await gas(tx(registry, owner, "fileClaim")(MODEL, v(4), "hf.co/thief/mnist-copy", CID, cert(4)));

// A 1024-record batch: only the root goes on chain, so the cost does not depend on the tree.
const hashPair = (a: string, b: string) => keccak256(BigInt(a) < BigInt(b) ? `${a}${b.slice(2)}` : `${b}${a.slice(2)}`);
let level = Array.from({ length: N }, (_, i) =>
  keccak256(
    keccak256(
      ethers.AbiCoder.defaultAbiCoder().encode(
        ["bytes32", "bytes32", "bytes32", "bytes32"],
        [MODEL, v(1000 + i), i === 0 ? ZERO : v(999 + i), cert(1000 + i)],
      ),
    ),
  ),
);
while (level.length > 1) level = level.flatMap((x, i) => (i % 2 === 0 ? [hashPair(x, level[i + 1] as string)] : []));
const root = level[0] as string;
const anchor = await gas(tx(registry, anchorer, "anchorBatch")(root, N, CID));
const anchorPerVersion = anchor / N;

await conn.close();

const targets = {
  registerVersionWithParent: { value: registerWithParent, target: "<= 60000", pass: registerWithParent <= 60_000 },
  anchorBatchPerVersionAt1024: {
    value: Number(anchorPerVersion.toFixed(2)),
    target: "<= 100",
    pass: anchorPerVersion <= 100,
  },
  runtimeBytecodeBytes: { value: runtimeBytes, target: "< 24576", pass: runtimeBytes < 24_576 },
};
const rows: [string, number | string, string][] = [
  ["createModel", createModel, ""],
  ["registerVersion, first version (parent 0), owner", registerRoot, "<= 60000"],
  ["registerVersion, with parent, owner", registerWithParent, "<= 60000"],
  ["registerVersion, with parent, maintainer", registerByMaintainer, "<= 60000"],
  ["registerVersionBySig, signer's first nonce", bySigFirstNonce, ""],
  ["registerVersionBySig, later nonce", bySigLaterNonce, ""],
  ["revokeVersion", revoke, ""],
  ["fileClaim", claim, ""],
  [`anchorBatch, N = ${N}`, anchor, `<= ${N * 100}`],
  ["anchorBatch gas per version", anchorPerVersion.toFixed(2), "<= 100"],
  ["runtime bytecode (bytes)", runtimeBytes, "< 24576"],
];
const check = (value: number | string, target: string) => {
  if (target === "") return "";
  const [op, limit] = target.split(" ");
  const x = Number(value);
  return (op === "<=" ? x <= Number(limit) : x < Number(limit)) ? "PASS" : "FAIL";
};
const w = Math.max(...rows.map((r) => r[0].length));
process.stdout.write(`${"measurement".padEnd(w)}  ${"gas / bytes".padStart(11)}  ${"target".padEnd(9)}  result\n`);
for (const [name, value, target] of rows) {
  process.stdout.write(
    `${name.padEnd(w)}  ${String(value).padStart(11)}  ${target.padEnd(9)}  ${check(value, target)}\n`,
  );
}
const json = {
  network: { chainId: Number(chainId) },
  gas: {
    createModel,
    registerVersionRoot: registerRoot,
    registerVersionWithParent: registerWithParent,
    registerVersionWithParentByMaintainer: registerByMaintainer,
    registerVersionBySigFirstNonce: bySigFirstNonce,
    registerVersionBySigLaterNonce: bySigLaterNonce,
    revokeVersion: revoke,
    fileClaim: claim,
    anchorBatch1024: anchor,
  },
  runtimeBytecodeBytes: runtimeBytes,
  targets,
  pass: Object.values(targets).every((t) => t.pass),
};
process.stdout.write(`${JSON.stringify(json)}\n`);
process.exitCode = json.pass ? 0 : 1;
