import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { ModelIO } from "../../core/input/model-io.js";
import { fromFsError, ProvmarkError } from "../../errors.js";
import type { ImageDataset } from "./dataset.js";
import { grayDataset } from "./gray-dataset.js";

/** Parsed IDX file (http://yann.lecun.com/exdb/mnist/ format): unsigned bytes only, as MNIST uses. */
export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

/** Parses IDX bytes (gzip detected by magic); `file` names the source in errors. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  let b = bytes;
  if (b[0] === 0x1f && b[1] === 0x8b) {
    try {
      b = gunzipSync(b);
    } catch (e) {
      throw new ProvmarkError("DATASET_INVALID", `${file} is not valid gzip: ${(e as Error).message}`, {
        subject: file,
        cause: e,
      });
    }
  }
  const bad = (why: string) =>
    new ProvmarkError("DATASET_INVALID", `${file} is not an IDX file: ${why}`, {
      subject: file,
      hints: ["Expected MNIST-style IDX files (train-images-idx3-ubyte[.gz], ...)."],
    });
  if (b.length < 4) throw bad("too short");
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint16(0) !== 0) throw bad("bad magic number");
  const type = b[2];
  const rank = b[3] as number;
  if (type !== 0x08) throw bad(`element type 0x${type?.toString(16)} (only unsigned bytes, 0x08, are supported)`);
  if (rank < 1 || b.length < 4 + rank * 4) throw bad("truncated header");
  const dims = Array.from({ length: rank }, (_, i) => dv.getUint32(4 + i * 4));
  const n = dims.reduce((a, d) => a * d, 1);
  const start = 4 + rank * 4;
  if (b.length - start !== n) throw bad(`header says ${n} values, file holds ${b.length - start}`);
  return { dims, data: b.subarray(start) };
}

const SPLITS = { train: "train", test: "t10k" } as const;

async function readIdx(dir: string, entries: readonly string[], stem: string): Promise<IdxArray> {
  const name = entries.find((e) => e === stem || e === `${stem}.gz`);
  if (name === undefined) {
    throw new ProvmarkError("DATASET_INVALID", `${dir} lacks ${stem}[.gz]`, {
      subject: dir,
      hints: ["An idx:<dir> dataset needs train-/t10k- images-idx3-ubyte and labels-idx1-ubyte files (raw or .gz)."],
    });
  }
  const file = join(dir, name);
  const bytes = await readFile(file).catch((e: unknown) => {
    throw fromFsError(e, file);
  });
  return parseIdx(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file);
}

/**
 * Loads MNIST-layout IDX files from a directory (e.g. Debian's /usr/share/datasets/fashion-mnist),
 * keeping the files' own train / t10k split; `io` as in `grayDataset`.
 */
export async function loadIdxDataset(dir: string, io?: ModelIO): Promise<ImageDataset> {
  const entries = await readdir(dir).catch((e: unknown) => {
    throw fromFsError(e, dir);
  });
  let hw: [number, number] = [0, 0];
  const split = async (prefix: string) => {
    const images = await readIdx(dir, entries, `${prefix}-images-idx3-ubyte`);
    const labels = await readIdx(dir, entries, `${prefix}-labels-idx1-ubyte`);
    if (images.dims.length !== 3 || labels.dims.length !== 1 || images.dims[0] !== labels.dims[0]) {
      throw new ProvmarkError(
        "DATASET_INVALID",
        `${dir}: ${prefix} images ${JSON.stringify(images.dims)} and labels ${JSON.stringify(labels.dims)} do not match`,
        { subject: dir },
      );
    }
    hw = [images.dims[1] as number, images.dims[2] as number];
    return { pixels: images.data, y: Uint16Array.from(labels.data) };
  };
  const train = await split(SPLITS.train);
  const test = await split(SPLITS.test);
  let maxLabel = 0;
  for (const s of [train, test]) for (const v of s.y) maxLabel = Math.max(maxLabel, v);
  const [height, width] = hw;
  return grayDataset({
    name: `idx:${dir}`,
    height,
    width,
    classes: maxLabel + 1,
    train,
    test,
    splitNote: `IDX files in ${dir}: the files' own train (${train.y.length}) / t10k (${test.y.length}) split`,
    io,
  });
}
