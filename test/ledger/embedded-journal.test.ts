import { appendFile, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { keccak256, Wallet } from "ethers";
import { beforeAll, describe, expect, it } from "vitest";
import { isProvmarkError } from "../../src/errors.js";
import { DEV_ACCOUNT_KEYS, lastReplayStats, openEmbeddedChain } from "../../src/ledger/embedded/index.js";
import {
  devWallet,
  digestAnchorFactory,
  ethersProvider,
  journalFile,
  journalLines,
  rejection,
  tempStateDir,
} from "./embedded-helpers.js";

const stranger = "0x000000000000000000000000000000000000bEEF";

/** A journal with a deployment (block 1), a contract call (2) and a transfer (3). */
let base: string[];
let baseHead: { number: number; hash: string };

beforeAll(async () => {
  const stateDir = await tempStateDir();
  const chain = await openEmbeddedChain({ stateDir, access: "write" });
  const provider = ethersProvider(chain);
  const alice = devWallet(provider);
  const anchor = await (await digestAnchorFactory(alice).deploy()).waitForDeployment();
  await (await anchor.getFunction("anchor")(`0x${"11".repeat(32)}`)).wait();
  await (await alice.sendTransaction({ to: stranger, value: 5n })).wait();
  const latest = await provider.getBlock("latest");
  baseHead = { number: latest?.number ?? -1, hash: latest?.hash ?? "" };
  provider.destroy();
  await chain.close();
  base = await journalLines(stateDir);
  expect(base).toHaveLength(4);
});

/** A state dir whose journal is `lines` (each followed by a newline) plus `tail`. */
async function journalWith(lines: string[], tail = ""): Promise<string> {
  const stateDir = await tempStateDir();
  await mkdir(stateDir, { recursive: true });
  await writeFile(journalFile(stateDir), lines.map((l) => `${l}\n`).join("") + tail);
  return stateDir;
}

function edit(line: number, change: (json: Record<string, unknown>) => void): string[] {
  const lines = [...base];
  const json = JSON.parse(lines[line - 1] ?? "{}");
  change(json);
  lines[line - 1] = JSON.stringify(json);
  return lines;
}

async function invalid(stateDir: string, access: "read" | "write" = "read") {
  const e = await rejection(openEmbeddedChain({ stateDir, access }));
  expect(isProvmarkError(e, "CHAIN_JOURNAL_INVALID"), String(e)).toBe(true);
  expect((e as unknown as { hints: string[] }).hints.join(" ")).toMatch(/[Bb]ack .* up/);
  return e;
}

describe("the chain journal", () => {
  it("ignores a torn last line when reading, and the next writer cuts it away", async () => {
    const torn = '{"n":4,"t":99999999999,"txs":[{"raw":"0x02f8';
    const stateDir = await journalWith(base, torn);
    const reader = await openEmbeddedChain({ stateDir, access: "read" });
    expect(reader.blocks).toBe(3);
    const head = (await reader.provider.request({ method: "eth_getBlockByNumber", params: ["latest", false] })) as {
      hash: string;
    };
    expect(head.hash).toBe(baseHead.hash);
    await reader.close();
    expect(await readFile(journalFile(stateDir), "utf8")).toContain(torn); // readers never write

    const writer = await openEmbeddedChain({ stateDir, access: "write" });
    const provider = ethersProvider(writer);
    await (await devWallet(provider, 3).sendTransaction({ to: stranger, value: 1n })).wait();
    provider.destroy();
    await writer.close();
    const text = await readFile(journalFile(stateDir), "utf8");
    expect(text).not.toContain(torn);
    expect(text.endsWith("\n")).toBe(true);
    expect(text.split("\n").slice(0, 4)).toEqual(base);
    expect(JSON.parse(text.split("\n")[4] ?? "{}")).toMatchObject({ n: 4 });
    const again = await openEmbeddedChain({ stateDir, access: "read" });
    expect(again.blocks).toBe(4);
    await again.close();
  });

  it("refuses a flipped status, naming the file and line", async () => {
    const stateDir = await journalWith(
      edit(3, (b) => {
        (b.txs as { status: number }[])[0] = { ...(b.txs as { status: number }[])[0], status: 0 } as { status: number };
      }),
    );
    const e = await invalid(stateDir);
    expect(e.message).toContain(`${journalFile(stateDir)}:3:`);
    expect(e.message).toMatch(/status 1, journal says 0/);
  });

  it("refuses an edited raw transaction", async () => {
    const stateDir = await journalWith(
      edit(4, (b) => {
        const tx = (b.txs as { raw: string }[])[0] as { raw: string };
        // change the value field's last byte: the signature then recovers another (unfunded) sender
        tx.raw = tx.raw.replace(/05(80c0)/, "06$1");
      }),
    );
    expect(await readFile(journalFile(stateDir), "utf8")).not.toEqual(base.map((l) => `${l}\n`).join(""));
    const e = await invalid(stateDir);
    expect(e.message).toContain(`${journalFile(stateDir)}:4:`);
    expect(e.message).toMatch(/transaction 0x[0-9a-f]{64} was refused on replay: Nonce too high/);
  });

  it("refuses a wrong contract address and a wrong hash", async () => {
    const address = await invalid(
      await journalWith(
        edit(2, (b) => {
          (b.txs as { contractAddress: string }[])[0] = {
            ...(b.txs as { contractAddress: string }[])[0],
            contractAddress: stranger,
          } as { contractAddress: string };
        }),
      ),
    );
    expect(address.message).toMatch(/:2: .*contract address/);
    const hash = await invalid(
      await journalWith(
        edit(3, (b) => {
          (b.txs as { hash: string }[])[0] = { ...(b.txs as { hash: string }[])[0], hash: `0x${"00".repeat(32)}` };
        }),
      ),
    );
    expect(hash.message).toMatch(/:3: transaction replayed as 0x[0-9a-f]{64}, but the journal records 0x0{64}/);
  });

  it("refuses a gap in block numbers, a malformed line and a timestamp going back", async () => {
    const gap = await invalid(await journalWith([base[0], base[1], base[3]] as string[]), "write");
    expect(gap.message).toMatch(/:3: expected block 2, found block 3/);
    const garbled = await invalid(await journalWith([base[0], base[1], "{not json", base[3]] as string[]));
    expect(garbled.message).toMatch(/:3: block line is not valid JSON/);
    const fields = await invalid(await journalWith([base[0], base[1], '{"n":2,"t":"soon","txs":[]}'] as string[]));
    expect(fields.message).toMatch(/:3: malformed block line: t:/);
    const back = await invalid(
      await journalWith(
        edit(3, (b) => {
          b.t = 1;
        }),
      ),
    );
    expect(back.message).toMatch(/:3: block 2's timestamp 1 is before/);
    const header = await invalid(await journalWith([base[0]?.replace("v1", "v9") ?? ""]));
    expect(header.message).toMatch(/:1: malformed header/);
  });

  it("replays a long journal of its own making, with empty and multi-transaction blocks", async () => {
    const wallets = DEV_ACCOUNT_KEYS.slice(0, 10).map((k) => new Wallet(k));
    const genesisTime = 1_700_000_000;
    const header = {
      format: "provmark.chain-journal/v1",
      chainId: 31337,
      hardfork: "cancun",
      genesisTime,
      createdBy: "test",
    };
    const sign = async (i: number) => {
      const w = wallets[i % wallets.length] as Wallet;
      const raw = await w.signTransaction({
        type: 2,
        chainId: 31337,
        nonce: Math.floor(i / wallets.length),
        to: stranger,
        value: 1n,
        gasLimit: 21_000n,
        maxFeePerGas: 2_000_000_000n,
        maxPriorityFeePerGas: 1n,
      });
      return { raw, hash: keccak256(raw), status: 1 };
    };
    const blocks: string[] = [];
    const total = 400;
    let sent = 0;
    for (let n = 1; n <= total; n++) {
      const txs = n === 7 ? [] : n === 8 ? [await sign(sent++), await sign(sent++)] : [await sign(sent++)];
      blocks.push(JSON.stringify({ n, t: genesisTime + 12 * n, txs }));
    }
    const stateDir = await journalWith([JSON.stringify(header), ...blocks]);
    const started = performance.now();
    const reader = await openEmbeddedChain({ stateDir, access: "read" });
    const openSeconds = (performance.now() - started) / 1000;
    const stats = lastReplayStats();
    expect(stats?.blocks).toBe(total);
    const rate = total / (stats?.seconds ?? 1);
    console.log(
      `replayed ${total} blocks in ${stats?.seconds.toFixed(3)} s: ${rate.toFixed(0)} blocks/s (open ${openSeconds.toFixed(2)} s)`,
    );
    expect(rate).toBeGreaterThan(50);
    expect(reader.blocks).toBe(total);
    const call = (method: string, params: unknown[]) => reader.provider.request({ method, params });
    expect(await call("eth_getBalance", [stranger, "latest"])).toBe(`0x${sent.toString(16)}`);
    const block7 = (await call("eth_getBlockByNumber", ["0x7", false])) as { timestamp: string; transactions: [] };
    expect(block7.transactions).toEqual([]);
    expect(Number(block7.timestamp)).toBe(genesisTime + 84);
    const block8 = (await call("eth_getBlockByNumber", ["0x8", false])) as { transactions: string[] };
    expect(block8.transactions).toHaveLength(2);
    await reader.close();
    await expect(stat(`${stateDir}/chain.lock`)).rejects.toThrow(/ENOENT/);
    // an appended line is the next block: a fresh line for block 401 stamped before block 400 is refused
    await appendFile(
      journalFile(stateDir),
      `${JSON.stringify({ n: total + 1, t: genesisTime + 12 * total - 1, txs: [] })}\n`,
    );
    const e = await invalid(stateDir);
    expect(e.message).toContain(`:${total + 2}: block ${total + 1}'s timestamp`);
  });
});
