import { type FileHandle, open, stat, truncate } from "node:fs/promises";
import { join } from "node:path";
import { ProvmarkError } from "../../errors.js";
import { writeFully } from "../../model/durable-io.js";

/**
 * The run's raw request/response bodies, content-addressed in one append-only file,
 * `<runDir>/bodies.log`: records `<sha256 hex> <length>\n<bytes>\n`. One file means one fsync per
 * group commit (thousands of small files cost one fsync each); a torn last record from a crash is
 * cut off at open.
 */
export const BODIES_LOG = "bodies.log";

const HEADER_MAX = 64 + 1 + 20 + 1;

interface Entry {
  offset: number;
  length: number;
}

export class BodyLog {
  readonly path: string;
  readonly #index: Map<string, Entry>;
  readonly #handle: FileHandle;
  #size: number;
  /** Set when a failed append could not be cut back: later records would follow a torn one. */
  #broken: unknown = undefined;

  private constructor(path: string, index: Map<string, Entry>, handle: FileHandle, size: number) {
    this.path = path;
    this.#index = index;
    this.#handle = handle;
    this.#size = size;
  }

  /** Opens (creating) the log for appending; `readOnly` never writes or truncates. */
  static async open(runDir: string, { readOnly = false } = {}): Promise<BodyLog> {
    const path = join(runDir, BODIES_LOG);
    let handle: FileHandle;
    try {
      handle = await open(path, readOnly ? "r" : "a+");
    } catch (e) {
      if (readOnly && (e as NodeJS.ErrnoException).code === "ENOENT") {
        return new BodyLog(path, new Map(), null as unknown as FileHandle, 0);
      }
      throw new ProvmarkError("OUTPUT_WRITE_FAILED", `cannot open ${path}: ${(e as Error).message}`, { subject: path });
    }
    const { index, validBytes, size } = await scan(handle, path);
    if (validBytes < size && !readOnly) await truncate(path, validBytes);
    return new BodyLog(path, index, handle, validBytes);
  }

  has(sha256: string): boolean {
    return this.#index.has(sha256);
  }

  /** Appends the bodies not yet stored, in one write, and fsyncs. True when anything was written. */
  async appendAll(bodies: readonly { sha256: string; bytes: Uint8Array }[]): Promise<boolean> {
    const parts: Buffer[] = [];
    let offset = this.#size;
    const added = new Map<string, Entry>();
    for (const b of bodies) {
      if (this.#index.has(b.sha256) || added.has(b.sha256)) continue;
      const head = Buffer.from(`${b.sha256} ${b.bytes.length}\n`);
      added.set(b.sha256, { offset: offset + head.length, length: b.bytes.length });
      parts.push(head, Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength), Buffer.from("\n"));
      offset += head.length + b.bytes.length + 1;
    }
    if (parts.length === 0) return false;
    if (this.#broken !== undefined) {
      throw new ProvmarkError("OUTPUT_WRITE_FAILED", `could not write ${this.path}: an earlier append failed`, {
        subject: this.path,
        cause: this.#broken,
      });
    }
    try {
      await writeFully(this.#handle, Buffer.concat(parts));
      await this.#handle.sync();
    } catch (e) {
      // cut off a partly written record, so the next append starts on a record boundary
      await this.#handle.truncate(this.#size).catch((t: unknown) => {
        this.#broken = t;
      });
      throw new ProvmarkError("OUTPUT_WRITE_FAILED", `could not write ${this.path}: ${(e as Error).message}`, {
        subject: this.path,
        cause: e,
      });
    }
    for (const [k, v] of added) this.#index.set(k, v);
    this.#size = offset;
    return true;
  }

  /** The body with this SHA-256, or null when it was never stored. */
  async read(sha256: string): Promise<Uint8Array | null> {
    const e = this.#index.get(sha256);
    if (!e) return null;
    const buf = Buffer.alloc(e.length);
    await this.#handle.read(buf, 0, e.length, e.offset);
    return buf;
  }

  async close(): Promise<void> {
    await this.#handle?.close();
  }
}

async function scan(
  handle: FileHandle,
  path: string,
): Promise<{ index: Map<string, Entry>; validBytes: number; size: number }> {
  const size = (await stat(path)).size;
  const index = new Map<string, Entry>();
  const head = Buffer.alloc(HEADER_MAX);
  let pos = 0;
  while (pos < size) {
    const { bytesRead } = await handle.read(head, 0, Math.min(HEADER_MAX, size - pos), pos);
    const nl = head.subarray(0, bytesRead).indexOf(10);
    const m = nl < 0 ? null : /^([0-9a-f]{64}) (\d+)$/.exec(head.subarray(0, nl).toString("latin1"));
    if (!m) break;
    const length = Number(m[2]);
    const start = pos + nl + 1;
    if (start + length + 1 > size) break; // torn by a crash mid-append
    index.set(m[1] as string, { offset: start, length });
    pos = start + length + 1;
  }
  return { index, validBytes: pos, size };
}
