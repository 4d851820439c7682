import { type FileHandle, open } from "node:fs/promises";
import { fromFsError } from "../errors.js";
import type { ByteSource } from "./byte-streams.js";
import { sealStream } from "./envelope.js";

const READ_CHUNK = 1 << 20;

/**
 * Opens a regular file for adding, mapping fs errors to PATH_* before any work starts, and returns its
 * bytes as a stream (sealed when an envelope key is given). `close` must be called when done.
 */
export async function readFileSource(
  path: string,
  envelopeKey: Uint8Array | undefined,
): Promise<{ source: ByteSource; close: () => Promise<void> }> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (e) {
    throw fromFsError(e, path);
  }
  try {
    // opening a directory succeeds on Linux; only the first read would fail, mid-import
    const stats = await handle.stat();
    if (!stats.isFile()) {
      const code = stats.isDirectory() ? "EISDIR" : "ENOTREGULAR";
      throw fromFsError(Object.assign(new Error("not a regular file"), { code }), path);
    }
    const bytes = handle.createReadStream({ autoClose: false, highWaterMark: READ_CHUNK });
    const source = envelopeKey ? sealStream(envelopeKey, bytes) : bytes;
    return { source: mapReadErrors(source, path), close: () => handle.close() };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

async function* mapReadErrors(source: ByteSource, path: string): AsyncGenerator<Uint8Array> {
  try {
    yield* source;
  } catch (e) {
    throw (e as NodeJS.ErrnoException)?.code ? fromFsError(e, path) : e;
  }
}
