import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { type Contract, JsonRpcProvider, Network, parseEther, Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import { isProvmarkError } from "../../src/errors.js";
import { DEV_ACCOUNT_KEYS, openEmbeddedChain, serveEmbeddedChain } from "../../src/ledger/embedded/index.js";
import { digestAnchorFactory, journalLines, rejection, tempStateDir } from "./embedded-helpers.js";

const stranger = "0x000000000000000000000000000000000000cafE";

async function rpc(url: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text === "" ? null : JSON.parse(text) };
}

describe("serveEmbeddedChain", () => {
  it("serves the chain over JSON-RPC, is used by openEmbeddedChain while it runs, and journals everything", async () => {
    const stateDir = await tempStateDir();
    const methods: string[] = [];
    const server = await serveEmbeddedChain({ stateDir, port: 0, onRequest: (m) => methods.push(m) });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const lock = JSON.parse(await readFile(join(stateDir, "chain.lock"), "utf8"));
    expect(lock).toMatchObject({ pid: process.pid, url: server.url });

    const provider = new JsonRpcProvider(server.url, Network.from(31337n), {
      staticNetwork: true,
      cacheTimeout: -1,
      pollingInterval: 20,
    });
    // eth_sendRawTransaction: a wallet signs locally
    const alice = new Wallet(DEV_ACCOUNT_KEYS[0] as string, provider);
    const anchor = (await (await digestAnchorFactory(alice).deploy()).waitForDeployment()) as Contract;
    const digest = `0x${"5e".repeat(32)}`;
    await (await anchor.getFunction("anchor")(digest)).wait();
    // eth_sendTransaction: an unlocked dev account signs on the node
    const bob = await provider.getSigner(1);
    await (await bob.sendTransaction({ to: stranger, value: parseEther("2") })).wait();
    expect(methods).toContain("eth_sendRawTransaction");
    expect(methods).toContain("eth_sendTransaction");
    // a revert comes back with its data, so ethers decodes the custom error
    const reverted = await rejection(anchor.getFunction("anchor")(digest));
    expect(anchor.interface.parseError(String(reverted.data))?.name).toBe("AlreadyAnchored");
    const head = await provider.getBlockNumber();
    expect(head).toBe(3);
    const headHash = (await provider.getBlock(head))?.hash;

    // while the server runs, other opens use it instead of replaying the journal
    const writer = await openEmbeddedChain({ stateDir, access: "write", lockTimeoutMs: 1_000 });
    expect(writer.servedBy).toBe(server.url);
    expect(writer.blocks).toBe(head);
    const hash = await writer.provider.request({
      method: "eth_sendTransaction",
      params: [{ from: bob.address, to: stranger, value: "0x1" }],
    });
    expect(hash).toMatch(/^0x[0-9a-f]{64}$/);
    await writer.close();
    const reader = await openEmbeddedChain({ stateDir, access: "read" });
    expect(reader.servedBy).toBe(server.url);
    expect(await reader.provider.request({ method: "eth_blockNumber" })).toBe(`0x${(head + 1).toString(16)}`);
    const refused = await rejection(reader.provider.request({ method: "eth_sendTransaction", params: [{}] }));
    expect(refused.code).toBe(4100);
    await reader.close();

    // a second server on the same chain, or on the same port, is refused
    const again = await rejection(serveEmbeddedChain({ stateDir, port: 0 }));
    expect(isProvmarkError(again, "CHAIN_BUSY")).toBe(true);
    const port = Number(new URL(server.url).port);
    const taken = await rejection(serveEmbeddedChain({ stateDir: await tempStateDir(), port }));
    expect(isProvmarkError(taken, "USAGE")).toBe(true);
    expect(taken.message).toContain(`port ${port}`);
    expect((taken as unknown as { hints: string[] }).hints.join(" ")).toContain("--port 0");

    provider.destroy();
    await server.close();
    await expect(stat(join(stateDir, "chain.lock"))).rejects.toThrow(/ENOENT/);
    expect(await journalLines(stateDir)).toHaveLength(1 + head + 1);

    // a fresh open replays everything the server journaled
    const replayed = await openEmbeddedChain({ stateDir, access: "read" });
    expect(replayed.servedBy).toBeNull();
    expect(replayed.blocks).toBe(head + 1);
    const block = (await replayed.provider.request({
      method: "eth_getBlockByNumber",
      params: [`0x${head.toString(16)}`, false],
    })) as { hash: string };
    expect(block.hash).toBe(headHash);
    expect(await replayed.provider.request({ method: "eth_getBalance", params: [stranger, "latest"] })).toBe(
      `0x${(parseEther("2") + 1n).toString(16)}`,
    );
    await replayed.close();
  });

  it("speaks JSON-RPC 2.0: batches, notifications, errors, refusals and size limits", async () => {
    const stateDir = await tempStateDir();
    const server = await serveEmbeddedChain({ stateDir, port: 0 });
    try {
      const batch = await rpc(server.url, [
        { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] },
        { jsonrpc: "2.0", id: "b", method: "eth_blockNumber" },
        { jsonrpc: "2.0", method: "eth_chainId" }, // a notification: no response
        { jsonrpc: "2.0", id: 3, method: "evm_increaseTime", params: [60] },
        { id: 4, method: "eth_chainId" },
      ]);
      expect(batch.status).toBe(200);
      expect(batch.json).toEqual([
        { jsonrpc: "2.0", id: 1, result: "0x7a69" },
        { jsonrpc: "2.0", id: "b", result: "0x0" },
        {
          jsonrpc: "2.0",
          id: 3,
          error: { code: -32601, message: expect.stringMatching(/evm_increaseTime .* cannot be replayed/) },
        },
        { jsonrpc: "2.0", id: 4, error: { code: -32600, message: "Invalid JSON-RPC 2.0 request" } },
      ]);
      const notification = await rpc(server.url, { jsonrpc: "2.0", method: "eth_chainId" });
      expect(notification.status).toBe(204);
      const bad = await fetch(server.url, { method: "POST", body: "{oops" });
      expect(await bad.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700 } });
      expect((await rpc(server.url, [])).json).toMatchObject({ error: { code: -32600 } });
      const fromPage = await fetch(server.url, {
        method: "POST",
        headers: { origin: "https://example.com", "content-type": "text/plain" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_accounts" }),
      });
      expect(fromPage.status).toBe(403);
      const get = await fetch(server.url);
      expect(get.status).toBe(405);
      const huge = await fetch(server.url, { method: "POST", body: "x".repeat(11 * 1024 * 1024) });
      expect(huge.status).toBe(413);
      const ok = await rpc(server.url, { jsonrpc: "2.0", id: 9, method: "net_version", params: [] });
      expect(ok.json).toEqual({ jsonrpc: "2.0", id: 9, result: "31337" });
      const providerError = await rpc(server.url, {
        jsonrpc: "2.0",
        id: 10,
        method: "eth_sendRawTransaction",
        params: ["0x02"],
      });
      expect(providerError.json).toMatchObject({
        id: 10,
        error: { code: expect.any(Number), message: expect.any(String) },
      });
    } finally {
      await server.close();
    }
    expect(await journalLines(stateDir)).toHaveLength(1);
  });

  it("refuses a non-loopback host unless allowRemote, and then serves without unlocked accounts", async () => {
    const stateDir = await tempStateDir();
    for (const host of ["0.0.0.0", "::", "192.168.1.7"]) {
      const refused = await rejection(serveEmbeddedChain({ stateDir, host, port: 0 }));
      expect(isProvmarkError(refused, "USAGE"), String(refused)).toBe(true);
      expect(refused.message).toContain("not a loopback address");
    }
    const { isLoopbackHost } = await import("../../src/ledger/embedded/locked-accounts.js");
    expect(["127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"].every(isLoopbackHost)).toBe(true);

    // allowRemote on loopback, so the test stays on this machine: node-side signing is gone
    const server = await serveEmbeddedChain({ stateDir, port: 0, allowRemote: true });
    try {
      const accounts = await rpc(server.url, { jsonrpc: "2.0", id: 1, method: "eth_accounts", params: [] });
      expect(accounts.json).toMatchObject({ result: [] });
      const from = new Wallet(DEV_ACCOUNT_KEYS[1] as string).address;
      for (const [method, params] of [
        ["eth_sendTransaction", [{ from, to: stranger, value: "0x1" }]],
        ["eth_sign", [from, "0x00"]],
        ["personal_sign", ["0x00", from]],
        ["eth_signTypedData_v4", [from, "{}"]],
      ] as const) {
        const r = await rpc(server.url, { jsonrpc: "2.0", id: 2, method, params });
        expect(r.json, method).toMatchObject({
          error: { code: 4100, message: expect.stringContaining("no unlocked") },
        });
      }
      // transactions signed by their sender still go through
      const provider = new JsonRpcProvider(server.url, Network.from(31337n), { staticNetwork: true, cacheTimeout: -1 });
      const alice = new Wallet(DEV_ACCOUNT_KEYS[0] as string, provider);
      await (await alice.sendTransaction({ to: stranger, value: 1n })).wait();
      expect(await provider.getBalance(stranger)).toBe(1n);
      provider.destroy();
    } finally {
      await server.close();
    }
    expect(await journalLines(stateDir)).toHaveLength(2); // the header and alice's block
  });
});
