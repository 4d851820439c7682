import type { FileHandle } from "node:fs/promises";
import { open, readdir } from "node:fs/promises";
import { join } from "node:path";

/**
 * Writes every byte of `data` at the handle's position (or at `position`). `write(2)` may write
 * less than asked without an error (a file size limit, a full disk, a signal): a journal that took
 * such a write for complete would hold half a record and count it as durable. The rest is written
 * again until all of it is down; a write that makes no progress, or fails, rejects.
 */
export async function writeFully(handle: FileHandle, data: string | Uint8Array, position?: number): Promise<void> {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  let done = 0;
  while (done < bytes.length) {
    const at = position === undefined ? null : position + done;
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, at);
    if (bytesWritten <= 0) {
      throw Object.assign(new Error(`short write: ${done} of ${bytes.length} bytes written, then none`), {
        code: "ESHORTWRITE",
      });
    }
    done += bytesWritten;
  }
}

/** Flushes a directory's entries (a rename or a new file in it) to disk. */
export async function fsyncDir(dir: string): Promise<void> {
  // Windows cannot open a directory for syncing; NTFS journals renames itself.
  if (process.platform === "win32") return;
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsyncs every file below `dir`, then every directory bottom-up, so a rename of `dir` publishes synced content. */
export async function fsyncTree(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await fsyncTree(p);
    else if (e.isFile()) {
      const handle = await open(p, "r");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
  }
  await fsyncDir(dir);
}
