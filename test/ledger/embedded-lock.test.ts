import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { isProvmarkError } from "../../src/errors.js";
import { openEmbeddedChain } from "../../src/ledger/embedded/index.js";
import { devWallet, ethersProvider, journalLines, rejection, tempStateDir } from "./embedded-helpers.js";

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill();
});

/** A live process that is not this one. */
function liveProcess(): number {
  const child = spawn("sleep", ["30"], { stdio: "ignore" });
  children.push(child);
  return child.pid as number;
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn("true", [], { stdio: "ignore" });
  await once(child, "exit");
  return child.pid as number;
}

async function writeLock(stateDir: string, info: Record<string, unknown>): Promise<string> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, "chain.lock");
  await writeFile(path, JSON.stringify(info));
  return path;
}

describe("the chain lock", () => {
  it("makes a writer wait for a live holder, then fail with CHAIN_BUSY naming its pid", async () => {
    const stateDir = await tempStateDir();
    const pid = liveProcess();
    const lock = await writeLock(stateDir, { pid, startedAt: new Date().toISOString() });
    const started = Date.now();
    const e = await rejection(openEmbeddedChain({ stateDir, access: "write", lockTimeoutMs: 400 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(isProvmarkError(e, "CHAIN_BUSY")).toBe(true);
    expect(e.message).toContain(`process ${pid}`);
    expect(JSON.parse(await readFile(lock, "utf8")).pid).toBe(pid);
    // readers take no lock
    const reader = await openEmbeddedChain({ stateDir, access: "read" });
    expect(reader.blocks).toBe(0);
    await reader.close();
  });

  it("takes over a lock left by a dead process", async () => {
    const stateDir = await tempStateDir();
    const lock = await writeLock(stateDir, { pid: await deadPid(), startedAt: "2020-01-01T00:00:00.000Z" });
    const chain = await openEmbeddedChain({ stateDir, access: "write", lockTimeoutMs: 400 });
    const held = JSON.parse(await readFile(lock, "utf8"));
    expect(held.pid).toBe(process.pid);
    expect(Date.parse(held.startedAt)).toBeGreaterThan(Date.now() - 60_000);
    const provider = ethersProvider(chain);
    await (await devWallet(provider).sendTransaction({ to: devWallet(provider, 1).address, value: 1n })).wait();
    provider.destroy();
    await chain.close();
    await expect(stat(lock)).rejects.toThrow(/ENOENT/);
    expect(await journalLines(stateDir)).toHaveLength(2);
  });

  it("refuses a second writer in the same process until the first closes", async () => {
    const stateDir = await tempStateDir();
    const first = await openEmbeddedChain({ stateDir, access: "write" });
    const e = await rejection(openEmbeddedChain({ stateDir, access: "write", lockTimeoutMs: 200 }));
    expect(isProvmarkError(e, "CHAIN_BUSY")).toBe(true);
    expect(e.message).toContain(`process ${process.pid}`);
    // a writer waiting for the lock gets it as soon as it is released
    const second = openEmbeddedChain({ stateDir, access: "write", lockTimeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 150));
    await first.close();
    const chain = await second;
    expect(JSON.parse(await readFile(join(stateDir, "chain.lock"), "utf8")).pid).toBe(process.pid);
    await chain.close();
  });

  it("does not use a recorded server URL that does not answer", async () => {
    const stateDir = await tempStateDir();
    const closedPort = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const pid = liveProcess();
    await writeLock(stateDir, { pid, startedAt: new Date().toISOString(), url: `http://127.0.0.1:${closedPort}` });
    const e = await rejection(openEmbeddedChain({ stateDir, access: "write", lockTimeoutMs: 300 }));
    expect(isProvmarkError(e, "CHAIN_BUSY")).toBe(true);
    expect(e.message).toContain(`http://127.0.0.1:${closedPort}`);
    const reader = await openEmbeddedChain({ stateDir, access: "read" });
    expect(reader.servedBy).toBeNull();
    await reader.close();
  });

  it("survives its writer being killed: another process's blocks are kept and its lock is taken over", async () => {
    const stateDir = await tempStateDir();
    const script = join(dirname(stateDir), "writer.mts");
    const index = fileURLToPath(new URL("../../src/ledger/embedded/index.ts", import.meta.url));
    await writeFile(
      script,
      `import { openEmbeddedChain } from ${JSON.stringify(index)};
const chain = await openEmbeddedChain({ stateDir: ${JSON.stringify(stateDir)}, access: "write" });
const [from] = await chain.provider.request({ method: "eth_accounts" });
const hash = await chain.provider.request({ method: "eth_sendTransaction", params: [{ from, to: from, value: "0x1" }] });
console.log(hash);
setInterval(() => {}, 1000);
`,
    );
    const root = fileURLToPath(new URL("../..", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(child);
    const [line] = (await once(child.stdout as NodeJS.ReadableStream, "data")) as [Buffer];
    const hash = line.toString().trim();
    expect(hash).toMatch(/^0x[0-9a-f]{64}$/);
    const busy = await rejection(openEmbeddedChain({ stateDir, access: "write", lockTimeoutMs: 200 }));
    expect(isProvmarkError(busy, "CHAIN_BUSY")).toBe(true);
    expect(busy.message).toContain(`process ${child.pid}`);
    child.kill("SIGKILL");
    await once(child, "exit");
    const chain = await openEmbeddedChain({ stateDir, access: "write", lockTimeoutMs: 1_000 });
    expect(chain.blocks).toBe(1);
    const receipt = (await chain.provider.request({ method: "eth_getTransactionReceipt", params: [hash] })) as {
      status: string;
    };
    expect(receipt.status).toBe("0x1");
    await chain.close();
  });
});
