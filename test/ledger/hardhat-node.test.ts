import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Contract, HDNodeWallet, JsonRpcProvider, Mnemonic, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROVENANCE_REGISTRY_ABI } from "../../src/ledger/generated/provenance-registry.js";
import { provmark } from "../helpers/cli.js";
import { tempDir, writeFakeModel } from "../helpers/fixtures.js";
import { freePort, startHardhatNode } from "../helpers/hardhat-node.js";

const MNEMONIC = Mnemonic.fromPhrase("test test test test test test test test test test test junk");
const devKey = (i: number) => HDNodeWallet.fromMnemonic(MNEMONIC, `m/44'/60'/0'/0/${i}`).privateKey;

let node: { url: string; stop: () => void } | undefined;
let url: string;
let home: string;
let modelDir: string;

const run = (args: string[], env: Record<string, string> = {}) =>
  provmark([...args, "--json"], { env: { PROVMARK_HOME: home, PROVMARK_RPC_URL: "", ...env } });

beforeAll(async () => {
  node = await startHardhatNode();
  url = node.url;
  home = await tempDir();
  modelDir = join(await tempDir(), "classifier");
  await writeFakeModel(modelDir, [
    { name: "dense/kernel", shape: [4, 3] },
    { name: "dense/bias", shape: [3] },
  ]);
});

afterAll(() => {
  node?.stop();
});

describe("ledger over HTTP JSON-RPC against a real hardhat node", () => {
  it("refuses to write without a deployment or a signer, with coded errors", async () => {
    const none = await run(["check", modelDir, "--rpc", url]);
    expect(none.code).toBe(2);
    expect(JSON.parse(none.stdout).error.code).toBe("REGISTRY_NOT_DEPLOYED");
    const noSigner = await run(["deploy", "--rpc", url]);
    expect(noSigner.code).toBe(2);
    expect(JSON.parse(noSigner.stdout).error.code).toBe("CHAIN_SIGNER_MISSING");
    const wrongChain = await run(["deploy", "--rpc", url, "--chain-id", "1"], { PROVMARK_PRIVATE_KEY: devKey(0) });
    expect(JSON.parse(wrongChain.stdout).error.code).toBe("CHAIN_ID_MISMATCH");
  });

  it("deploys, registers, and the record reads back over plain JSON-RPC", async () => {
    const dep = await run(["deploy", "--rpc", url], { PROVMARK_PRIVATE_KEY: devKey(0) });
    expect(dep.code, dep.stderr + dep.stdout).toBe(0);
    const d = JSON.parse(dep.stdout);
    expect(d.chainId).toBe("31337");
    expect(existsSync(join(home, "deployments", "31337.json"))).toBe(true);

    const reg = await run(
      ["register", "--model", modelDir, "--rpc", url, "--name", "classifier", "--version", "1.0.0"],
      {
        PROVMARK_PRIVATE_KEY: devKey(1),
      },
    );
    expect(reg.code, reg.stderr + reg.stdout).toBe(0);
    const r = JSON.parse(reg.stdout);
    expect(r).toMatchObject({ chainId: "31337", contract: d.address, name: "classifier", version: "1.0.0" });
    expect(r.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(r.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(r.manifestCid).toMatch(/^bafk/); // a small manifest: one raw block under the default profile

    // independent read, with nothing of provmark's but the ABI
    const provider = new JsonRpcProvider(url);
    const registry = new Contract(d.address, PROVENANCE_REGISTRY_ABI, provider);
    const modelId = r.modelId;
    const [owner, registeredAt, revokedAt] = await registry.getFunction("getVersion")(modelId, `0x${r.digest}`);
    expect(owner).toBe(new Wallet(devKey(1)).address);
    expect(revokedAt).toBe(0n);
    const block = await provider.getBlock(r.blockNumber);
    expect(Number(registeredAt)).toBe(block?.timestamp);
    const logs = await registry.queryFilter(registry.filters.VersionRegistered?.(modelId, `0x${r.digest}`) ?? [], 0);
    expect(logs).toHaveLength(1);
    expect((logs[0] as unknown as { args: unknown[] }).args[4]).toBe(r.manifestCid);
    expect((logs[0] as unknown as { args: unknown[] }).args[5]).toBe(new Wallet(devKey(1)).address);
    provider.destroy();

    const hist = await run(["history", "classifier", "--rpc", url]);
    expect(hist.code).toBe(0);
    expect(JSON.parse(hist.stdout).versions.map((v: { digest: string }) => v.digest)).toEqual([r.digest]);

    const ok = await run(["check", modelDir, "--rpc", url]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).status).toBe("registered");

    const dup = await run(["register", "--model", modelDir, "--rpc", url, "--name", "classifier"], {
      PROVMARK_PRIVATE_KEY: devKey(1),
    });
    expect(dup.code).toBe(2);
    expect(JSON.parse(dup.stdout).error.code).toBe("REGISTRY_DUPLICATE_DIGEST");

    const rev = await run(["revoke", r.digest, "--reason", "key leaked", "--rpc", url], {
      PROVMARK_PRIVATE_KEY: devKey(1),
    });
    expect(rev.code, rev.stdout).toBe(0);
    const revoked = await run(["check", modelDir, "--rpc", url]);
    expect(revoked.code).toBe(6);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ status: "revoked", revocationReason: "key leaked" });
  });

  it("reports an unfunded signer and an unreachable endpoint as coded errors, recording nothing", async () => {
    await writeFile(join(modelDir, "README.txt"), "a changed release\n");
    const poor = await run(["register", "--model", modelDir, "--rpc", url, "--name", "poor-model"], {
      PROVMARK_PRIVATE_KEY: Wallet.createRandom().privateKey,
    });
    expect(poor.code).toBe(2);
    expect(JSON.parse(poor.stdout).error.code).toBe("CHAIN_INSUFFICIENT_FUNDS");
    const after = await run(["check", modelDir, "--rpc", url]);
    expect(after.code).toBe(5);

    const dead = await run(["check", modelDir, "--rpc", `http://127.0.0.1:${await freePort()}`]);
    expect(dead.code).toBe(2);
    expect(JSON.parse(dead.stdout).error.code).toBe("CHAIN_UNREACHABLE");
  });
});
