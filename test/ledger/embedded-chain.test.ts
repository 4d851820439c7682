import { stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { AbiCoder, type Contract, HDNodeWallet, keccak256, parseEther, Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import { isProvmarkError, ProvmarkError } from "../../src/errors.js";
import { createEdrNetwork } from "../../src/ledger/embedded/edr-network.js";
import {
  DEV_ACCOUNT_KEYS,
  DEV_MNEMONIC,
  EMBEDDED_CHAIN_ID,
  openEmbeddedChain,
} from "../../src/ledger/embedded/index.js";
import { JournalingProvider } from "../../src/ledger/embedded/journaling-provider.js";
import { VERSION } from "../../src/version.js";
import {
  devWallet,
  digestAnchorFactory,
  ethersProvider,
  journalLines,
  rejection,
  tempStateDir,
} from "./embedded-helpers.js";

const digestA = `0x${"a1".repeat(32)}`;
const digestB = `0x${"b2".repeat(32)}`;
const stranger = "0x000000000000000000000000000000000000dEaD";
/** Storage slot of `anchors[digest]` (the mapping is slot 0): packs (anchorer, timestamp). */
const anchorSlot = (digest: string) =>
  keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256"], [digest, 0]));

describe("DEV_ACCOUNT_KEYS", () => {
  it("are the 20 keys Hardhat's mnemonic derives at m/44'/60'/0'/0/i", () => {
    const root = HDNodeWallet.fromPhrase(DEV_MNEMONIC, "", "m/44'/60'/0'/0");
    expect(DEV_ACCOUNT_KEYS).toHaveLength(20);
    DEV_ACCOUNT_KEYS.forEach((key, i) => {
      expect(key).toBe(root.deriveChild(i).privateKey);
    });
  });
});

describe("openEmbeddedChain", () => {
  it("keeps blocks, timestamps, balances, storage and transactions across opens, and journals reverted transactions", async () => {
    const stateDir = await tempStateDir();

    // "process" 1: a register-like flow
    const writer = await openEmbeddedChain({ stateDir, access: "write" });
    expect(writer.chainId).toBe(EMBEDDED_CHAIN_ID);
    expect(writer.servedBy).toBeNull();
    expect(writer.blocks).toBe(0);
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);
    const [headerLine] = await journalLines(stateDir);
    const header = JSON.parse(headerLine ?? "{}");
    expect(header).toEqual({
      format: "provmark.chain-journal/v1",
      chainId: 31337,
      hardfork: "cancun",
      genesisTime: expect.any(Number),
      createdBy: `provmark ${VERSION}`,
    });
    expect(Math.abs(header.genesisTime - Date.now() / 1000)).toBeLessThan(60);

    const provider = ethersProvider(writer);
    const alice = devWallet(provider, 0);
    expect(await provider.getBalance(alice.address)).toBe(parseEther("10000"));
    expect((await provider.getBlock(0))?.timestamp).toBe(header.genesisTime);
    const anchor = (await (await digestAnchorFactory(alice).deploy()).waitForDeployment()) as Contract;
    const anchorAddress = await anchor.getAddress();
    const txHashes: string[] = [(anchor.deploymentTransaction()?.hash ?? "") as string];
    for (const digest of [digestA, digestB]) {
      const tx = await anchor.getFunction("anchor")(digest);
      txHashes.push(tx.hash);
      await tx.wait();
    }
    const transfer = await alice.sendTransaction({ to: stranger, value: parseEther("1.5") });
    txHashes.push(transfer.hash);
    await transfer.wait();

    // A transaction that reverts (digestA is anchored already) is mined all the same.
    const before = await provider.getBlockNumber();
    const reverted = await rejection(anchor.getFunction("anchor")(digestA, { gasLimit: 200_000 }));
    expect(reverted.message).toMatch(/revert/i);
    expect(await provider.getBlockNumber()).toBe(before + 1);
    const revertedHash = (await provider.getBlock(before + 1))?.transactions[0] ?? "";
    expect((await provider.getTransactionReceipt(revertedHash))?.status).toBe(0);
    txHashes.push(revertedHash);

    const head = await provider.getBlockNumber();
    expect(head).toBe(5);
    const snapshot = async (p: typeof provider) => ({
      blocks: await Promise.all(
        Array.from({ length: head + 1 }, async (_, n) => {
          const b = await p.getBlock(n);
          return { number: b?.number, hash: b?.hash, timestamp: b?.timestamp, txs: b?.transactions };
        }),
      ),
      receipts: await Promise.all(
        txHashes.map(async (h) => {
          const r = await p.getTransactionReceipt(h);
          return { hash: r?.hash, block: r?.blockNumber, status: r?.status, contract: r?.contractAddress };
        }),
      ),
      balances: await Promise.all([alice.address, stranger].map((a) => p.getBalance(a))),
      code: await p.getCode(anchorAddress),
      storage: await Promise.all([digestA, digestB].map((d) => p.getStorage(anchorAddress, anchorSlot(d)))),
      anchored: await anchor.connect(p).getFunction("anchorOf")(digestB),
    });
    const written = await snapshot(provider);
    expect(written.receipts.map((r) => r.status)).toEqual([1, 1, 1, 1, 0]);
    expect(written.receipts[0]?.contract).toBe(anchorAddress);
    expect(written.balances[1]).toBe(parseEther("1.5"));
    expect(written.anchored[0]).toBe(alice.address);
    expect(written.anchored[1]).toBe(BigInt(written.blocks[3]?.timestamp ?? -1));
    expect(BigInt(written.storage[1] ?? 0) & ((1n << 160n) - 1n)).toBe(BigInt(alice.address));
    const timestamps = written.blocks.map((b) => b.timestamp ?? 0);
    for (let n = 1; n <= head; n++) expect(timestamps[n]).toBeGreaterThanOrEqual(timestamps[n - 1] ?? 0);
    // No block is stamped ahead of the wall clock (blocks mined within a second share it).
    expect(Math.max(...timestamps)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    provider.destroy();
    await writer.close();
    await expect(stat(`${stateDir}/chain.lock`)).rejects.toThrow(/ENOENT/);

    const lines = await journalLines(stateDir);
    expect(lines).toHaveLength(1 + head);
    const revertedLine = JSON.parse(lines[5] ?? "{}");
    expect(revertedLine).toMatchObject({ n: 5, txs: [{ hash: revertedHash, status: 0 }] });
    expect(JSON.parse(lines[1] ?? "{}").txs[0].contractAddress.toLowerCase()).toBe(anchorAddress.toLowerCase());

    // "process" 2: a reader sees exactly the same chain
    const reader = await openEmbeddedChain({ stateDir, access: "read" });
    expect(reader.blocks).toBe(head);
    const readProvider = ethersProvider(reader);
    expect(await snapshot(readProvider)).toEqual(written);
    const refused = await rejection(reader.provider.request({ method: "eth_sendTransaction", params: [{}] }));
    expect(refused.code).toBe(4100);
    readProvider.destroy();
    await reader.close();
    expect((await journalLines(stateDir)).length).toBe(1 + head);

    // "process" 3: a writer whose clock lags stamps the last block's time, and the journal grows by one line
    const writer2 = await openEmbeddedChain({ stateDir, access: "write", now: () => 0 });
    expect(writer2.blocks).toBe(head);
    const provider2 = ethersProvider(writer2);
    const tx = await devWallet(provider2, 1).sendTransaction({ to: stranger, value: 1n });
    const receipt = await tx.wait();
    expect(receipt?.blockNumber).toBe(head + 1);
    expect((await provider2.getBlock(head + 1))?.timestamp).toBe(timestamps[head] ?? -1);
    expect(await provider2.getBalance(stranger)).toBe(parseEther("1.5") + 1n);
    provider2.destroy();
    await writer2.close();
    const grown = await journalLines(stateDir);
    expect(grown).toHaveLength(lines.length + 1);
    expect(JSON.parse(grown.at(-1) ?? "{}")).toMatchObject({ n: head + 1, t: timestamps[head] });
  });

  it("stamps blocks with the injected clock when it is ahead of the chain", async () => {
    const stateDir = await tempStateDir();
    const start = Math.floor(Date.now() / 1000);
    let now = start * 1000;
    const chain = await openEmbeddedChain({ stateDir, access: "write", now: () => now });
    const provider = ethersProvider(chain);
    now = (start + 3600) * 1000;
    await (await devWallet(provider).sendTransaction({ to: stranger, value: 1n })).wait();
    expect((await provider.getBlock(1))?.timestamp).toBe(start + 3600);
    // eth_call and eth_estimateGas run in a pending block stamped "now", not at EDR's own clock
    now = (start + 3700) * 1000;
    const pendingTimestamp = await chain.provider.request({
      method: "eth_call",
      params: [{ data: "0x4260005260206000f3" }, "pending"], // initcode returning block.timestamp
    });
    expect(BigInt(pendingTimestamp as string)).toBe(BigInt(start + 3700));
    await chain.provider.request({ method: "evm_mine", params: [] });
    expect((await provider.getBlock(2))?.timestamp).toBe(start + 3700);
    expect(JSON.parse((await journalLines(stateDir))[2] ?? "{}")).toEqual({ n: 2, t: start + 3700, txs: [] });
    // a block mined within the same second shares its timestamp rather than running ahead of the clock
    await chain.provider.request({ method: "evm_mine", params: [] });
    expect((await provider.getBlock(3))?.timestamp).toBe(start + 3700);
    provider.destroy();
    await chain.close();
    const reader = await openEmbeddedChain({ stateDir, access: "read" });
    const block = (await reader.provider.request({ method: "eth_getBlockByNumber", params: ["0x2", false] })) as {
      timestamp: string;
    };
    expect(Number(block.timestamp)).toBe(start + 3700);
    await reader.close();
  });

  it("refuses methods a journal cannot replay, leaving the journal unchanged", async () => {
    const stateDir = await tempStateDir();
    const chain = await openEmbeddedChain({ stateDir, access: "write" });
    const provider = ethersProvider(chain);
    await (await devWallet(provider).sendTransaction({ to: stranger, value: 1n })).wait();
    const journal = await journalLines(stateDir);
    const calls: [string, unknown[]][] = [
      ["evm_increaseTime", [3600]],
      ["evm_setNextBlockTimestamp", [4_000_000_000]],
      ["hardhat_setBalance", [stranger, "0x1000"]],
      ["hardhat_setCode", [stranger, "0x00"]],
      ["hardhat_impersonateAccount", [stranger]],
      ["hardhat_mine", ["0x10"]],
      ["evm_snapshot", []],
      ["evm_revert", ["0x1"]],
      ["evm_setAutomine", [false]],
      ["evm_mine", [4_000_000_000]],
    ];
    for (const [method, params] of calls) {
      const e = await rejection(chain.provider.request({ method, params }));
      expect(e.code, method).toBe(-32601);
      expect(e.message).toMatch(/persistent dev chain/);
    }
    expect(await journalLines(stateDir)).toEqual(journal);
    expect(await provider.getBalance(stranger)).toBe(1n);
    expect(await provider.getBlockNumber()).toBe(1);
    // read-only introspection is allowed
    expect(await chain.provider.request({ method: "hardhat_getAutomine", params: [] })).toBe(true);
    expect(await chain.provider.request({ method: "net_version", params: [] })).toBe("31337");
    provider.destroy();
    await chain.close();
  });

  it("reads an empty chain without creating anything, and serves two concurrent readers", async () => {
    const stateDir = await tempStateDir();
    const empty = await openEmbeddedChain({ stateDir, access: "read" });
    expect(empty.blocks).toBe(0);
    expect(await empty.provider.request({ method: "eth_blockNumber" })).toBe("0x0");
    await empty.close();
    await expect(stat(stateDir)).rejects.toThrow(/ENOENT/);
    await expect(stat(dirname(stateDir))).resolves.toBeDefined();

    const writer = await openEmbeddedChain({ stateDir, access: "write" });
    const provider = ethersProvider(writer);
    for (let i = 0; i < 3; i++)
      await (await devWallet(provider, i).sendTransaction({ to: stranger, value: 7n })).wait();
    const hash = (await provider.getBlock("latest"))?.hash;
    provider.destroy();
    // readers need no lock: they work while the writer is open
    const readers = await Promise.all([
      openEmbeddedChain({ stateDir, access: "read" }),
      openEmbeddedChain({ stateDir, access: "read" }),
    ]);
    for (const reader of readers) {
      expect(reader.blocks).toBe(3);
      const latest = (await reader.provider.request({ method: "eth_getBlockByNumber", params: ["latest", false] })) as {
        hash: string;
      };
      expect(latest.hash).toBe(hash);
      expect(await reader.provider.request({ method: "eth_getBalance", params: [stranger, "latest"] })).toBe("0x15");
    }
    await Promise.all(readers.map((r) => r.close()));
    await writer.close();
  });

  it("journals transactions sent from unlocked dev accounts (legacy, EIP-2930 and EIP-1559)", async () => {
    const stateDir = await tempStateDir();
    const chain = await openEmbeddedChain({ stateDir, access: "write" });
    const from = new Wallet(DEV_ACCOUNT_KEYS[2] as string).address;
    const hashes: string[] = [];
    for (const extra of [{ gasPrice: "0x77359400" }, { gasPrice: "0x77359400", accessList: [] }, {}]) {
      const hash = await chain.provider.request({
        method: "eth_sendTransaction",
        params: [{ from, to: stranger, value: "0x1", ...extra }],
      });
      hashes.push(hash as string);
    }
    await chain.close();
    const lines = (await journalLines(stateDir)).slice(1).map((l) => JSON.parse(l));
    expect(lines.map((l) => l.txs[0].hash)).toEqual(hashes);
    expect(lines.map((l) => l.txs[0].raw.slice(0, 4))).toEqual([expect.stringMatching(/^0xf[89]/), "0x01", "0x02"]);
    const reader = await openEmbeddedChain({ stateDir, access: "read" });
    for (const hash of hashes) {
      const tx = (await reader.provider.request({ method: "eth_getTransactionByHash", params: [hash] })) as {
        from: string;
      };
      expect(tx.from).toBe(from.toLowerCase());
    }
    await reader.close();
  });

  it("names the state dir when it cannot be created", async () => {
    const stateDir = await tempStateDir();
    const file = `${dirname(stateDir)}/a-file`;
    await writeFile(file, "not a directory");
    const e = await rejection(openEmbeddedChain({ stateDir: `${file}/chain`, access: "write" }));
    expect(isProvmarkError(e, "PATH_NOT_DIRECTORY")).toBe(true);
    expect(e.message).toContain(file);
  });

  it("refuses every request after a block could not be journaled", async () => {
    const network = await createEdrNetwork(1_700_000_000);
    const failing = {
      path: "/nowhere/journal.jsonl",
      append: async () => {
        throw new ProvmarkError("OUTPUT_WRITE_FAILED", "could not write /nowhere/journal.jsonl: disk full");
      },
    };
    const provider = new JournalingProvider({
      inner: network.provider,
      journal: failing,
      head: { number: 0, timestamp: 1_700_000_000 },
      now: Date.now,
    });
    const [from] = (await provider.request({ method: "eth_accounts" })) as string[];
    const e = await rejection(
      provider.request({ method: "eth_sendTransaction", params: [{ from, to: stranger, value: "0x1" }] }),
    );
    expect(isProvmarkError(e, "OUTPUT_WRITE_FAILED")).toBe(true);
    expect(e.message).toMatch(/mined block 1 but could not journal it .*disk full/);
    const after = await rejection(provider.request({ method: "eth_blockNumber" }));
    expect(after).toBe(e);
    await provider.close();
    await network.close();
  });
});
