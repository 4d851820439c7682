import { randomBytes } from "node:crypto";
import { readFileSync, unlinkSync } from "node:fs";
import { type FileHandle, link, open, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { ProvmarkError } from "../../errors.js";
import { fsyncDir } from "../../model/durable-io.js";

/**
 * `<stateDir>/chain.lock`: held by the one process that may append to the journal (a CLI command for
 * its lifetime, or a `provmark chain` server, which records its URL so others can use it instead).
 */

export const LOCK_FILE = "chain.lock";
export const DEFAULT_LOCK_TIMEOUT_MS = 15_000;
const POLL_MS = 100;
/** A lock file that cannot be parsed is one being written; older than this, it is debris. */
const UNPARSABLE_GRACE_MS = 2_000;

const lockInfoSchema = z.object({
  pid: z.number().int().positive(),
  startedAt: z.string(),
  url: z.string().optional(),
});
export type LockInfo = z.infer<typeof lockInfoSchema>;

export const lockPath = (stateDir: string) => join(stateDir, LOCK_FILE);

/** Whether a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function parseLock(text: string): LockInfo | null {
  try {
    const parsed = lockInfoSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The lock's holder, or null when there is no lock (or it is unreadable). */
export async function readLock(stateDir: string): Promise<LockInfo | null> {
  try {
    return parseLock(await readFile(lockPath(stateDir), "utf8"));
  } catch {
    return null;
  }
}

/** Locks this process holds, released synchronously if it exits without closing them. */
const held = new Map<string, LockInfo>();
let exitHookInstalled = false;

function sameHolder(a: LockInfo | null, b: LockInfo): boolean {
  return a !== null && a.pid === b.pid && a.startedAt === b.startedAt;
}

function releaseAllSync(): void {
  for (const [path, info] of held) {
    try {
      if (sameHolder(parseLock(readFileSync(path, "utf8")), info)) unlinkSync(path);
    } catch {
      // gone already
    }
  }
  held.clear();
}

/** The chain lock, held by this process. */
export class HeldLock {
  readonly path: string;
  #info: LockInfo;

  constructor(path: string, info: LockInfo) {
    this.path = path;
    this.#info = info;
    held.set(path, info);
    if (!exitHookInstalled) {
      process.on("exit", releaseAllSync);
      exitHookInstalled = true;
    }
  }

  get info(): LockInfo {
    return { ...this.#info };
  }

  /** Records the URL this process serves the chain at (atomically replacing the lock file). */
  async setUrl(url: string): Promise<void> {
    const info: LockInfo = { ...this.#info, url };
    const tmp = `${this.path}.tmp-${randomBytes(6).toString("hex")}`;
    try {
      await writeSynced(tmp, JSON.stringify(info), "wx");
      await rename(tmp, this.path);
      await fsyncDir(dirname(this.path));
    } catch (e) {
      await rm(tmp, { force: true });
      throw new ProvmarkError("OUTPUT_WRITE_FAILED", `could not update ${this.path}: ${(e as Error).message}`, {
        subject: this.path,
        cause: e,
      });
    }
    this.#info = info;
    held.set(this.path, info);
  }

  /** Deletes the lock file if it is still this process's. */
  async release(): Promise<void> {
    held.delete(this.path);
    try {
      if (sameHolder(parseLock(await readFile(this.path, "utf8")), this.#info)) await rm(this.path, { force: true });
    } catch {
      // gone already
    }
  }
}

async function writeSynced(path: string, text: string, flags: string): Promise<void> {
  const handle = await open(path, flags, 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates the lock with O_EXCL; false when it exists already. */
async function tryCreate(path: string, info: LockInfo): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await open(path, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new ProvmarkError("OUTPUT_WRITE_FAILED", `could not create ${path}: ${(e as Error).message}`, {
      subject: path,
      cause: e,
    });
  }
  try {
    await handle.writeFile(JSON.stringify(info));
    await handle.sync();
  } catch (e) {
    await handle.close();
    await rm(path, { force: true });
    throw new ProvmarkError("OUTPUT_WRITE_FAILED", `could not write ${path}: ${(e as Error).message}`, {
      subject: path,
      cause: e,
    });
  }
  await handle.close();
  return true;
}

/**
 * Removes a stale lock whose text was `staleText`. The lock is first renamed aside, so that if
 * another process replaced it meanwhile (it, too, saw the stale lock and took over first), the fresh
 * lock is put back rather than deleted.
 */
async function removeStale(path: string, staleText: string): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await rename(path, aside);
  } catch {
    return; // someone else removed it
  }
  const text = await readFile(aside, "utf8").catch(() => staleText);
  if (text !== staleText) await link(aside, path).catch(() => undefined);
  await rm(aside, { force: true });
}

export type LockOutcome = { lock: HeldLock } | { servedBy: string };

export interface AcquireOptions {
  /** How long to wait for a live holder that serves nothing; default 15 s. */
  timeoutMs?: number;
  /** Whether a holder's URL answers as the embedded chain. */
  probe: (url: string) => Promise<boolean>;
  /** "use": return a live server's URL; "refuse": CHAIN_BUSY (a second server). */
  whenServed: "use" | "refuse";
  /** Recorded in the lock from the start (normally set later with setUrl). */
  url?: string;
}

function busy(stateDir: string, holder: LockInfo, waitedMs: number | null): ProvmarkError {
  const path = lockPath(stateDir);
  const served = holder.url === undefined ? "" : ` and serves it at ${holder.url}`;
  return new ProvmarkError(
    "CHAIN_BUSY",
    `the embedded chain in ${stateDir} is in use by process ${holder.pid} (since ${holder.startedAt})${served}` +
      (waitedMs === null ? "" : `; waited ${(waitedMs / 1000).toFixed(1)} s`),
    {
      subject: path,
      hints: [
        holder.url === undefined
          ? "Wait for that provmark command to finish, or run `provmark chain` to share the chain between commands."
          : "Use the running server: commands find it through the lock, or set PROVMARK_RPC_URL to its URL.",
        `If process ${holder.pid} is not provmark (its pid was reused), delete ${path}.`,
      ],
    },
  );
}

/**
 * Takes `<stateDir>/chain.lock` (the directory must exist). A lock left by a dead process is taken
 * over; a live holder serving the chain over HTTP is returned as `servedBy` (or refused); any other
 * live holder is waited for, up to `timeoutMs`, then CHAIN_BUSY names its pid.
 */
export async function acquireLock(stateDir: string, options: AcquireOptions): Promise<LockOutcome> {
  const path = lockPath(stateDir);
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const started = Date.now();
  for (;;) {
    const info: LockInfo = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      ...(options.url === undefined ? {} : { url: options.url }),
    };
    if (await tryCreate(path, info)) return { lock: new HeldLock(path, info) };
    let text: string;
    let mtimeMs: number;
    try {
      text = await readFile(path, "utf8");
      mtimeMs = (await stat(path)).mtimeMs;
    } catch {
      continue; // released between our attempt and the read: try again
    }
    const holder = parseLock(text);
    if (holder === null) {
      if (Date.now() - mtimeMs > UNPARSABLE_GRACE_MS || Date.now() - started > timeoutMs) await removeStale(path, text);
      else await sleep(POLL_MS);
      continue;
    }
    if (!isProcessAlive(holder.pid)) {
      await removeStale(path, text);
      continue;
    }
    if (holder.url !== undefined && (await options.probe(holder.url))) {
      if (options.whenServed === "refuse") throw busy(stateDir, holder, null);
      return { servedBy: holder.url };
    }
    const waited = Date.now() - started;
    if (waited >= timeoutMs) throw busy(stateDir, holder, waited);
    await sleep(Math.min(POLL_MS, timeoutMs - waited));
  }
}

/** The URL of a live `provmark chain` server holding the lock, if any (for readers, who take no lock). */
export async function findServer(stateDir: string, probe: (url: string) => Promise<boolean>): Promise<string | null> {
  const holder = await readLock(stateDir);
  if (holder?.url === undefined || !isProcessAlive(holder.pid)) return null;
  return (await probe(holder.url)) ? holder.url : null;
}
