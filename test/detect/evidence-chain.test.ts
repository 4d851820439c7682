import { randomBytes } from "node:crypto";
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ContractFactory, type InterfaceAbi, JsonRpcProvider, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EvidenceReport } from "../../src/core/detect/evidence.js";
import { certificateHash } from "../../src/core/watermark/certificate.js";
import { renderEvidenceHtml } from "../../src/detect/report/html.js";
import { deployRegistry } from "../../src/ledger/deploy.js";
import { writeDeployment } from "../../src/ledger/deployments.js";
import { DEV_ACCOUNT_KEYS } from "../../src/ledger/embedded/index.js";
import { modelIdOf, RegistryClient, type VersionRecord } from "../../src/ledger/registry-client.js";
import { provmark } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";
import { startHardhatNode } from "../helpers/hardhat-node.js";
import { FakeSuspect } from "./helpers/fake-suspect.js";
import { detectToReport, toyRelease } from "./helpers/toy-release.js";

// A real hardhat node, with a chain id that is not a dev chain's (its genesis still is one: the
// public dev accounts are funded). The owner registers a digest in the real registry R1; a forger
// registers the same digest in a second registry R2 (earlier), and in a FakeRegistry that logs a
// backdated time. Reports pointing at each are verified against the registry the verifier trusts.
const CHAIN_ID = 4242;
const KEY = "9aa3d95b3bc440fa88ea12eaa4456161";
const CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
let node: { url: string; stop: () => void };
let provider: JsonRpcProvider;
let server: FakeSuspect;
let homeA: string;
let r1: string;
let r2: string;
let fake: string;
const reports: Record<"real" | "foreign" | "backdated" | "legacy" | "impostor", string> = {
  real: "",
  foreign: "",
  backdated: "",
  legacy: "",
  impostor: "",
};
let ownerAddress: string;
let forgerAddress: string;

async function register(address: string, key: string, digest: string, certHash: string): Promise<VersionRecord> {
  const client = new RegistryClient({ address, runner: new Wallet(key, provider), fromBlock: 0, rpc: node.url });
  const { modelId } = await client.ensureModel(`toy-${address}`);
  await client.register({ modelId, digest, parent: null, certificateHash: certHash, manifestCid: CID });
  return (await client.version(modelId, digest)) as VersionRecord;
}

async function onChainOf(
  address: string,
  v: VersionRecord,
  registeredAt?: string,
  identity: { modelId: string; owner: string } | null = { modelId: v.modelId, owner: v.owner },
): Promise<EvidenceReport["onChain"]> {
  const block = await provider.getBlock(v.blockNumber);
  return {
    ...identity,
    chainId: String(CHAIN_ID),
    contract: address,
    rpc: node.url,
    digest: v.digest.slice(2),
    registeredAt: registeredAt ?? new Date((block?.timestamp ?? 0) * 1000).toISOString(),
    registrant: v.registrant,
    txHash: v.txHash,
    blockNumber: v.blockNumber,
    manifestCid: v.manifestCid,
  };
}

beforeAll(async () => {
  node = await startHardhatNode({ chainId: CHAIN_ID });
  provider = new JsonRpcProvider(node.url, undefined, { cacheTimeout: -1 });
  const owner = new Wallet(DEV_ACCOUNT_KEYS[0] as string, provider);
  const forger = new Wallet(DEV_ACCOUNT_KEYS[1] as string, provider);
  ownerAddress = owner.address;
  forgerAddress = forger.address;
  homeA = await tempDir();
  const opts = { confirmations: 1, rpc: node.url, txTimeoutMs: 60_000 };
  const dA = await deployRegistry(owner, provider, opts);
  await writeDeployment(homeA, dA);
  r1 = dA.address;
  r2 = (await deployRegistry(forger, provider, opts)).address;
  const artifact = JSON.parse(
    await readFile(
      new URL("../../artifacts/contracts/test/FakeRegistry.sol/FakeRegistry.json", import.meta.url),
      "utf8",
    ),
  ) as { abi: InterfaceAbi; bytecode: string };
  const fakeContract = await (
    await new ContractFactory(artifact.abi, artifact.bytecode, forger).deploy()
  ).waitForDeployment();
  fake = await fakeContract.getAddress();

  const release = await toyRelease();
  const certHash = `0x${certificateHash(release.certificate)}`;
  const digest = `0x${randomBytes(32).toString("hex")}`;
  const foreign = await register(r2, DEV_ACCOUNT_KEYS[1] as string, digest, certHash);
  const real = await register(r1, DEV_ACCOUNT_KEYS[0] as string, digest, certHash);
  await (
    await fakeContract.getFunction("registerBackdated")(
      modelIdOf(forger.address, "toy"),
      digest,
      certHash,
      CID,
      1_577_836_800n,
    )
  ).wait();
  const fakeClient = new RegistryClient({ address: fake, runner: provider, fromBlock: 0, rpc: node.url });
  const backdated = (await fakeClient.registrations(digest))[0] as VersionRecord;
  expect(backdated.registeredAt).toBe(1_577_836_800); // what the event claims

  // hardhat stamps each new block a second after the last: a burst of blocks runs ahead of the wall
  // clock, and an honest run must start after its registration
  const head = (await provider.getBlock("latest"))?.timestamp ?? 0;
  await new Promise((r) => setTimeout(r, Math.max(0, head * 1000 + 1100 - Date.now())));

  server = await FakeSuspect.start({ protocol: "tfserving", classes: 4, shape: [3, 3, 1] });
  const variants: {
    name: keyof typeof reports;
    address: string;
    v: VersionRecord;
    at?: string;
    identity?: { modelId: string; owner: string } | null;
  }[] = [
    { name: "real", address: r1, v: real },
    { name: "foreign", address: r2, v: foreign },
    { name: "backdated", address: fake, v: backdated, at: "2020-01-01T00:00:00.000Z" },
    // a report from before reports recorded the model id and owner
    { name: "legacy", address: r1, v: real, identity: null },
    // the owner's registration, cited as if it were in the forger's namespace
    {
      name: "impostor",
      address: r1,
      v: real,
      identity: { modelId: modelIdOf(forger.address, `toy-${r1}`), owner: forger.address },
    },
  ];
  for (const { name, address, v, at, identity } of variants) {
    const onChain = await onChainOf(address, v, at, ...(identity === undefined ? [] : [identity]));
    const r = await detectToReport({ ...release, url: server.url, onChain });
    reports[name] = r.reportDir;
  }
});

afterAll(async () => {
  provider?.destroy();
  await server?.close();
  node?.stop();
});

const verify = async (report: string, args: string[], home?: string) => {
  const r = await provmark(["evidence", "verify", report, "--chain", "--rpc", `${node.url}/v3/${KEY}`, ...args], {
    env: { PROVMARK_HOME: home ?? (await tempDir()), PROVMARK_REGISTRY: "" },
  });
  const json = args.includes("--json") ? JSON.parse(r.stdout) : null;
  const chainCheck = json?.checks?.find((c: { name: string }) => c.name.startsWith("on-chain record"));
  return { ...r, json, chainCheck: chainCheck && { ...chainCheck, ok: chainCheck.status === "pass" } };
};

describe("evidence verify --chain: whose registration the report cites", () => {
  it("the report's model id and owner are the chain's; --owner checks it is the owner the verifier expects", async () => {
    const ok = await verify(reports.real, ["--registry", r1, "--owner", ownerAddress, "--json"]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.chainCheck.detail).toContain(`of ${ownerAddress} (the owner you expect)`);
    const other = await verify(reports.real, ["--registry", r1, "--owner", forgerAddress, "--json"]);
    expect(other.code).toBe(3);
    expect(other.chainCheck.detail).toContain(`not ${forgerAddress}'s as you expect`);
  });

  it("a report citing the owner's registration as another namespace's (model id, owner) is rejected", async () => {
    const r = await verify(reports.impostor, ["--registry", r1, "--json"]);
    expect(r.code).toBe(3);
    expect(r.chainCheck.detail).toContain("the digest is not registered in model");
    expect(r.chainCheck.detail).toContain(`the report says ${forgerAddress}`);
  });

  it("an older report without model id and owner stays verifiable, and says so", async () => {
    const r = await verify(reports.legacy, ["--registry", r1, "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.chainCheck.detail).toContain("an older report: it records no model id or owner");
    expect((await verify(reports.legacy, ["--registry", r1, "--owner", forgerAddress, "--json"])).code).toBe(3);
  });
});

describe("evidence verify --chain: the registry is the verifier's", () => {
  it("the honest report checks out in the trusted registry, from block times; the dev chain is labelled", async () => {
    const r = await verify(reports.real, ["--registry", r1, "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.chainCheck).toMatchObject({ ok: true, detail: expect.stringContaining("its block's timestamp") });
    expect(r.json.chain).toMatchObject({ chainId: String(CHAIN_ID), registry: r1, verified: true, independent: false });
    expect(r.json.chain.devChain).toMatch(/genesis funds the public dev account/);
    expect(r.json.chain.note).toMatch(/^dev chain: not independent evidence/);
    expect(r.stdout).not.toContain(KEY);
    expect(r.json.chain.rpc).toContain("/v3/[redacted]");
    const text = await verify(reports.real, ["--registry", r1]);
    expect(text.stdout).toMatch(/NOTE dev chain: not independent evidence/);
  });

  it("a report naming a second registry (same event, same digest) is rejected when --registry names the real one", async () => {
    const r = await verify(reports.foreign, ["--registry", r1, "--json"]);
    expect(r.code).toBe(3);
    expect(r.chainCheck.ok).toBe(false);
    expect(r.chainCheck.detail).toContain(`the report names registry ${r2}; the registry you trust is ${r1}`);
    expect(r.chainCheck.detail).toMatch(/registered by tx 0x[0-9a-f]+, the report says/);
  });

  it("without --registry, the verifier's own deployment record is used, never the report's contract", async () => {
    const own = await verify(reports.foreign, ["--json"], homeA);
    expect(own.code).toBe(3);
    expect(own.chainCheck.detail).toContain(`the registry you trust is ${r1}`);
    const none = await verify(reports.foreign, ["--json"]);
    expect(none.code).toBe(2);
    expect(none.json.error.code).toBe("REGISTRY_NOT_DEPLOYED");
    expect(none.json.error.message).toContain(`the report's own (${r2}) is not taken on its word`);
    expect(none.json.error.hints.join(" ")).toContain("--deployment");
  });

  it("--deployment <file>: the registry (and genesis) of a record the verifier trusts; a corrupt one is coded", async () => {
    const file = join(homeA, "deployments", `${CHAIN_ID}.json`);
    expect((await verify(reports.real, ["--deployment", file, "--json"])).chainCheck?.ok).toBe(true);
    expect((await verify(reports.foreign, ["--deployment", file, "--json"])).chainCheck?.ok).toBe(false);
    const wrongGenesis = join(await tempDir(), "d.json");
    const d = JSON.parse(await readFile(file, "utf8"));
    await writeFile(wrongGenesis, JSON.stringify({ ...d, genesisHash: `0x${"ab".repeat(32)}` }));
    const g = await verify(reports.real, ["--deployment", wrongGenesis, "--json"]);
    expect(g.chainCheck.detail).toMatch(/genesis block is 0x[0-9a-f]{64}, not 0xabab/);
    const corrupt = join(await tempDir(), "corrupt.json");
    await writeFile(corrupt, "{ nope");
    const c = await verify(reports.real, ["--deployment", corrupt, "--json"]);
    expect(c.code).toBe(2);
    expect(c.json.error).toMatchObject({ code: "REGISTRY_NOT_DEPLOYED", subject: corrupt });
  });

  it("event-only timestamps: a registry whose event backdates the registration is caught by the block's time", async () => {
    const r = await verify(reports.backdated, ["--registry", fake, "--json"]);
    expect(r.code).toBe(3);
    expect(r.chainCheck.detail).toMatch(
      /the registry's event says 2020-01-01T00:00:00.000Z, its block is stamped 20\d\d-/,
    );
    expect(r.chainCheck.detail).toMatch(/\(block time\), the report says 2020-01-01T00:00:00.000Z/);
  });
});

describe("evidence verify --chain: dates that are not ISO 8601 fail", () => {
  it.each([
    ["run", "startedAt", "yesterday"],
    ["run", "startedAt", "2024-02-30T00:00:00.000Z"],
    ["run", "startedAt", "2024-05-01"],
    ["onChain", "registeredAt", "not a date"],
  ])("%s.%s = %s", async (part, field, value) => {
    const dir = join(await tempDir(), "report");
    await cp(reports.real, dir, { recursive: true });
    const report = JSON.parse(await readFile(join(dir, "report.json"), "utf8"));
    report[part][field] = value;
    await writeFile(join(dir, "report.json"), JSON.stringify(report));
    const r = await verify(dir, ["--registry", r1, "--json"]);
    expect(r.code).toBe(3);
    expect(r.chainCheck.detail).toContain(`${part}.${field} ${JSON.stringify(value)} is not an ISO 8601 date-time`);
  });
});

describe("the HTML report labels dev chains", () => {
  it("from the chain's own verdict, or from the report's chain id", async () => {
    const report = JSON.parse(await readFile(join(reports.real, "report.json"), "utf8")) as EvidenceReport;
    const onChain = report.onChain as NonNullable<EvidenceReport["onChain"]>;
    expect(renderEvidenceHtml(report)).not.toContain("not independent evidence");
    expect(renderEvidenceHtml(report, { devChain: "its genesis funds the public dev account" })).toContain(
      "<b>dev chain: not independent evidence</b>: its genesis funds the public dev account",
    );
    const dev = { ...report, onChain: { ...onChain, chainId: "31337" } };
    expect(renderEvidenceHtml(dev)).toContain("dev chain: not independent evidence");
  });
});
