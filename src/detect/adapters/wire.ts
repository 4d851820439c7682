import type { QueryInput } from "./types.js";

/** How pixels become numbers on the wire: `pixel/255` (the certificate's scaling) or raw `pixel`. */
export type PixelScale = "pixel/255" | "pixel";

const TABLES: Record<PixelScale, readonly string[]> = {
  "pixel/255": Array.from({ length: 256 }, (_, p) => JSON.stringify(p / 255)),
  pixel: Array.from({ length: 256 }, (_, p) => String(p)),
};

/**
 * One instance as JSON text: nested `[h][w][c]` arrays, or a flat row-major list. Built from a
 * 256-entry table, so encoding is fast and each value is exactly `JSON.stringify(pixel / 255)`.
 */
export function instanceJson(q: QueryInput, scale: PixelScale, layout: "nested" | "flat"): string {
  const t = TABLES[scale];
  const px = q.pixels;
  if (layout === "flat") {
    const parts = new Array<string>(px.length);
    for (let i = 0; i < px.length; i++) parts[i] = t[px[i] as number] as string;
    return `[${parts.join(",")}]`;
  }
  const [h, w, c] = q.shape;
  const rows = new Array<string>(h);
  let i = 0;
  for (let y = 0; y < h; y++) {
    const cols = new Array<string>(w);
    for (let x = 0; x < w; x++) {
      const ch = new Array<string>(c);
      for (let k = 0; k < c; k++) ch[k] = t[px[i++] as number] as string;
      cols[x] = `[${ch.join(",")}]`;
    }
    rows[y] = `[${cols.join(",")}]`;
  }
  return `[${rows.join(",")}]`;
}

/** The whole batch as one flat row-major list (KServe's `data`). */
export function batchFlatJson(batch: readonly QueryInput[], scale: PixelScale): string {
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
