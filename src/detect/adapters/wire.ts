import type { ImageInput } from "../../core/input/model-io.js";
import type { QueryInput } from "./types.js";

/** How pixels become numbers on the wire: `pixel/255` (v1 certificates' scaling) or raw `pixel`. */
export type PixelScale = "pixel/255" | "pixel";

/**
 * Per-channel 256-entry tables of JSON numbers, in the model's channel order: `order[k]` is the byte
 * channel that feeds model channel k (BGR models read RGB bytes backwards).
 */
export interface WireCodec {
  tables: readonly (readonly string[])[];
  order: readonly number[];
}

const table = (f: (p: number) => number) => Array.from({ length: 256 }, (_, p) => JSON.stringify(f(p)));
const SCALES: Record<PixelScale, readonly string[]> = {
  "pixel/255": table((p) => p / 255),
  pixel: table((p) => p),
};

/** A codec for a named scale, for `channels` channels in byte order. */
export function scaleCodec(scale: PixelScale, channels: number): WireCodec {
  return { tables: Array.from({ length: channels }, () => SCALES[scale]), order: [...Array(channels).keys()] };
}

/** The codec that sends what the model takes: the input model's channel order and preprocessing. */
export function imageCodec(spec: ImageInput): WireCodec {
  const c = spec.channels;
  const order = spec.channelOrder === "bgr" ? [...Array(c).keys()].reverse() : [...Array(c).keys()];
  const p = spec.preprocess;
  const tables = order.map((_, k) =>
    p.type === "affine"
      ? table((v) => v * p.scale + p.offset)
      : table((v) => (v - (p.mean[k] ?? (p.mean[0] as number))) / (p.std[k] ?? (p.std[0] as number))),
  );
  return { tables, order };
}

const codecOf = (c: PixelScale | WireCodec, channels: number): WireCodec =>
  typeof c === "string" ? scaleCodec(c, channels) : c;

/**
 * One instance as JSON text: nested `[h][w][c]` arrays, or a flat row-major list. Built from
 * 256-entry tables, so encoding is fast and each value is exactly `JSON.stringify(f(pixel))`.
 */
export function instanceJson(q: QueryInput, scale: PixelScale | WireCodec, layout: "nested" | "flat"): string {
  const [h, w, c] = q.shape;
  const { tables, order } = codecOf(scale, c);
  const px = q.pixels;
  if (layout === "flat") {
    const parts = new Array<string>(px.length);
    for (let i = 0; i < px.length; i += c) {
      for (let k = 0; k < c; k++)
        parts[i + k] = (tables[k] as readonly string[])[px[i + (order[k] as number)] as number] as string;
    }
    return `[${parts.join(",")}]`;
  }
  const rows = new Array<string>(h);
  let i = 0;
  for (let y = 0; y < h; y++) {
    const cols = new Array<string>(w);
    for (let x = 0; x < w; x++) {
      const ch = new Array<string>(c);
      for (let k = 0; k < c; k++)
        ch[k] = (tables[k] as readonly string[])[px[i + (order[k] as number)] as number] as string;
      i += c;
      cols[x] = `[${ch.join(",")}]`;
    }
    rows[y] = `[${cols.join(",")}]`;
  }
  return `[${rows.join(",")}]`;
}

/** The whole batch as one flat row-major list (KServe's `data`). */
export function batchFlatJson(batch: readonly QueryInput[], scale: PixelScale | WireCodec): string {
  return `[${batch.map((q) => instanceJson(q, scale, "flat").slice(1, -1)).join(",")}]`;
}

/** Checks that every query has the expected shape and a matching pixel count (a caller bug otherwise). */
export function assertBatchShape(batch: readonly QueryInput[], shape: readonly [number, number, number]): void {
  for (const q of batch) {
    const [h, w, c] = q.shape;
    if (h !== shape[0] || w !== shape[1] || c !== shape[2]) {
      throw new RangeError(`query ${q.id} has shape [${q.shape.join(",")}], the suspect takes [${shape.join(",")}]`);
    }
    if (q.pixels.length !== h * w * c) {
      throw new RangeError(`query ${q.id} has ${q.pixels.length} pixels, its shape needs ${h * w * c}`);
    }
  }
}
