/**
 * The audit log on disk: JSON lines, hash-chained (src/core/guard/audit-chain.ts). Appends are
 * group-committed: lines that arrive while an fsync runs are written and synced together, so each
 * append is durable when it resolves without one fsync per request in series.
 */
import { type FileHandle, open, readFile, truncate } from "node:fs/promises";
import { type AuditEntry, type AuditRecord, chainEntry, verifyChain } from "../core/guard/audit-chain.js";
import { fromFsError, ProvmarkError } from "../errors.js";
import { writeFully } from "../model/durable-io.js";

export interface AuditLog {
  path: string;
  /** Appends one record; resolves once it is on disk. */
  append(record: AuditRecord): Promise<AuditEntry>;
  head(): { hash: string; count: number };
  /** Resolves once every entry appended so far is on disk. */
  flushed(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenedAuditLog {
  log: AuditLog;
  /** Bytes of an incomplete last line (a crash mid-append) cut off at start; 0 when none. */
  tornBytes: number;
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw fromFsError(e, path);
  }
}

/**
 * Opens (or creates, 0600) a log for appending after verifying its chain. A torn last line is cut
 * off and reported (its request was never acknowledged as logged); any other break refuses to start.
 */
export async function openAuditLog(path: string): Promise<OpenedAuditLog> {
  const text = await readText(path);
  const check = verifyChain(text);
  if (check.problems.length > 0) {
    const p = check.problems[0];
    throw new ProvmarkError("GUARD_AUDIT_INVALID", `${path} line ${p?.line}: ${p?.what}`, {
      subject: path,
      hints: ["`provmark guard audit verify` shows the break; start on a new log and keep this one as evidence."],
    });
  }
  let tornBytes = 0;
  if (check.tornTail) {
    const good = text.split("\n").slice(0, check.count).join("\n");
    const keep = Buffer.byteLength(check.count === 0 ? "" : `${good}\n`);
    tornBytes = Buffer.byteLength(text) - keep;
    await truncate(path, keep);
  }
  const handle = await open(path, "a", 0o600);
  if (!check.tornTail && text !== "" && !text.endsWith("\n")) {
    // a crash between an entry and its newline: the entry is whole, the next one needs its own line
    await writeFully(handle, "\n");
    await handle.datasync();
  }
  let head = { hash: check.head, count: check.count };
  let pending: { line: string; done: () => void; fail: (e: unknown) => void }[] = [];
  let flushing: Promise<void> | undefined;

  const flush = async (h: FileHandle) => {
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      try {
        await writeFully(h, batch.map((b) => b.line).join(""));
        // fdatasync: the appended bytes and the new size are on disk; mtime may lag, which is all it saves
        await h.datasync();
        for (const b of batch) b.done();
      } catch (e) {
        for (const b of batch) b.fail(e);
      }
    }
    flushing = undefined;
  };

  const log: AuditLog = {
    path,
    append(record) {
      const entry = chainEntry(head, record);
      head = { hash: entry.hash, count: head.count + 1 };
      return new Promise<AuditEntry>((resolve, reject) => {
        pending.push({ line: `${JSON.stringify(entry)}\n`, done: () => resolve(entry), fail: reject });
        flushing ??= flush(handle);
      });
    },
    head: () => ({ ...head }),
    async flushed() {
      while (flushing !== undefined) await flushing;
    },
    async close() {
      await flushing;
      await handle.close();
    },
  };
  return { log, tornBytes };
}

/** Reads and verifies a log (for `audit verify`). */
export async function readAuditLog(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    throw fromFsError(e, path);
  }
}
