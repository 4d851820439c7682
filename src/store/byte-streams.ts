import { PassThrough, Readable } from "node:stream";
import { ProvmarkError } from "../errors.js";

export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** Passes bytes through, adding their count to `counter.bytes` as they go by. */
export async function* countBytes(source: ByteSource, counter: { bytes: number }): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    counter.bytes += chunk.byteLength;
    yield chunk;
  }
}

/**
 * Concatenates a stream, failing with IPFS_CONTENT_INVALID past `maxBytes` so a hostile or wrong
 * CID cannot make us buffer without bound.
 */
export async function collectBytes(source: ByteSource, maxBytes: number, what: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of source) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      throw new ProvmarkError("IPFS_CONTENT_INVALID", `${what} is larger than the ${maxBytes}-byte limit`, {
        subject: what,
        hints: ["Check the CID: it names larger content than expected here."],
      });
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts, total);
}

/**
 * Splits one stream into two that see the same bytes, read once. Node's pipe holds the source while
 * either branch is full, so memory stays bounded; a branch whose consumer gives up must be destroyed
 * (`abort`), or the other would wait for it forever.
 */
export function teeBytes(source: ByteSource): {
  branches: [AsyncIterable<Uint8Array>, AsyncIterable<Uint8Array>];
  abort(reason: Error): void;
} {
  const input = Readable.from(source, { objectMode: false });
  const a = new PassThrough();
  const b = new PassThrough();
  input.on("error", (e) => {
    a.destroy(e);
    b.destroy(e);
  });
  input.pipe(a);
  input.pipe(b);
  return {
    branches: [a, b],
    abort(reason) {
      input.destroy();
      a.destroy(reason);
      b.destroy(reason);
    },
  };
}
