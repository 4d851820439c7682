import { open, stat } from "node:fs/promises";
import { join } from "node:path";
import { fromFsError, ProvmarkError } from "../errors.js";
import { displayPath } from "./display-path.js";
import type { ModelLocation } from "./locate.js";
import { elementCount, storedBytesPerElement, type WeightSpec } from "./manifest-schema.js";

export interface ShardFile {
  /** The path as written in the manifest. */
  readonly path: string;
  readonly abs: string;
  readonly size: number;
}

export interface WeightSlice {
  readonly spec: WeightSpec;
  /** Offset within the group's concatenated shard bytes. */
  readonly offset: number;
  readonly byteLength: number;
}

/** One weights group: its shards, concatenated in order, hold its weights back to back. */
export interface GroupLayout {
  readonly index: number;
  readonly shards: readonly ShardFile[];
  readonly weights: readonly WeightSlice[];
  readonly byteLength: number;
}

/** Checks every shard exists and the shards hold exactly the bytes the manifest declares. */
export async function layoutShards(loc: ModelLocation): Promise<GroupLayout[]> {
  const manifest = displayPath(loc.manifestPath);
  const layouts: GroupLayout[] = [];
  for (const [index, g] of loc.groups.entries()) {
    const shards: ShardFile[] = [];
    for (const p of g.paths) {
      const abs = join(loc.dir, p);
      const st = await stat(abs).catch((e: unknown) => {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") {
          throw new ProvmarkError(
            "MODEL_SHARD_MISSING",
            `weight shard ${displayPath(abs)} listed in ${manifest} is missing`,
            {
              subject: displayPath(abs),
              hints: ["Copy every file of the model directory, not only model.json."],
            },
          );
        }
        throw fromFsError(e, displayPath(abs));
      });
      if (!st.isFile()) {
        throw new ProvmarkError("PATH_UNREADABLE", `weight shard ${displayPath(abs)} is not a regular file`, {
          subject: displayPath(abs),
        });
      }
      shards.push({ path: p, abs, size: st.size });
    }
    let offset = 0;
    const weights: WeightSlice[] = [];
    for (const spec of g.weights) {
      const byteLength = elementCount(spec.shape) * (storedBytesPerElement(spec) ?? 0);
      weights.push({ spec, offset, byteLength });
      offset += byteLength;
    }
    const have = shards.reduce((a, s) => a + s.size, 0);
    if (have !== offset) {
      const last = shards.at(-1);
      const listing = shards.map((s) => `${s.path} (${s.size} bytes)`).join(", ") || "no shards";
      const short = have < offset;
      throw new ProvmarkError(
        short ? "MODEL_SHARD_TRUNCATED" : "MODEL_SHARD_OVERSIZED",
        `weights group ${index} of ${manifest} needs ${offset} bytes but its shards hold ${have}: ${listing}`,
        {
          subject: last === undefined ? manifest : displayPath(last.abs),
          hints: short
            ? ["A shard was cut short (interrupted copy or download); fetch the model files again."]
            : ["The shards do not match this manifest; were shards from another model copied in?"],
        },
      );
    }
    layouts.push({ index, shards, weights, byteLength: offset });
  }
  return layouts;
}

const CHUNK = 4 << 20;

/** Calls `onChunk` with successive chunks of a file; the buffer is reused, so copy what you keep. */
export async function forEachChunk(abs: string, onChunk: (chunk: Uint8Array) => void): Promise<number> {
  const fh = await open(abs, "r").catch((e: unknown) => {
    throw fromFsError(e, displayPath(abs));
  });
  const buf = Buffer.allocUnsafe(CHUNK);
  let total = 0;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null).catch((e: unknown) => {
        throw fromFsError(e, displayPath(abs));
      });
      if (bytesRead === 0) break;
      total += bytesRead;
      onChunk(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return total;
}

/** Reads a whole group's bytes into memory (for loading models; digests stream instead). */
export async function readGroupBytes(layout: GroupLayout): Promise<Uint8Array> {
  const out = new Uint8Array(layout.byteLength);
  let off = 0;
  for (const s of layout.shards) {
    await forEachChunk(s.abs, (c) => {
      if (off + c.length > out.length) {
        throw new ProvmarkError("MODEL_SHARD_OVERSIZED", `${displayPath(s.abs)} grew while it was being read`, {
          subject: displayPath(s.abs),
        });
      }
      out.set(c, off);
      off += c.length;
    });
  }
  if (off !== out.length) {
    throw new ProvmarkError("MODEL_SHARD_TRUNCATED", `shards of group ${layout.index} shrank while being read`, {
      subject: displayPath(layout.shards.at(-1)?.abs ?? ""),
    });
  }
  return out;
}

/**
 * Routes a group's byte stream to per-weight sinks, in manifest order, across shard boundaries.
 * `open(slice)` returns the sink for one weight; `write` gets its bytes; `close` ends it.
 */
export class WeightRouter<S> {
  private weightIndex = 0;
  private written = 0;
  private sink: S | undefined;

  constructor(
    private readonly layout: GroupLayout,
    private readonly handlers: {
      open: (slice: WeightSlice) => S;
      write: (sink: S, bytes: Uint8Array, slice: WeightSlice, offsetInWeight: number) => void;
      close: (sink: S, slice: WeightSlice) => void;
    },
  ) {
    this.advanceEmpty();
  }

  push(chunk: Uint8Array): void {
    let pos = 0;
    while (pos < chunk.length) {
      const slice = this.layout.weights[this.weightIndex];
      if (slice === undefined) return; // trailing bytes are caught by layoutShards' size check
      this.sink ??= this.handlers.open(slice);
      const take = Math.min(slice.byteLength - this.written, chunk.length - pos);
      this.handlers.write(this.sink, chunk.subarray(pos, pos + take), slice, this.written);
      this.written += take;
      pos += take;
      if (this.written === slice.byteLength) this.finishCurrent();
    }
  }

  private finishCurrent(): void {
    const slice = this.layout.weights[this.weightIndex] as WeightSlice;
    this.handlers.close(this.sink ?? this.handlers.open(slice), slice);
    this.sink = undefined;
    this.written = 0;
    this.weightIndex++;
    this.advanceEmpty();
  }

  /** Zero-sized weights get no bytes, so open and close them as soon as they come up. */
  private advanceEmpty(): void {
    while (this.weightIndex < this.layout.weights.length) {
      const slice = this.layout.weights[this.weightIndex] as WeightSlice;
      if (slice.byteLength > 0) return;
      this.handlers.close(this.handlers.open(slice), slice);
      this.weightIndex++;
    }
  }

  /** True once every weight of the group has been closed. */
  get done(): boolean {
    return this.weightIndex >= this.layout.weights.length;
  }
}
