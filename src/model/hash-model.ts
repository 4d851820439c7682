import { createHash, type Hash } from "node:crypto";
import { lstat, readdir, stat } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { type FileDigest, filesRoot, type WeightLeaf, weightLeafHeader, weightsRoot } from "../core/digest/index.js";
import { fromFsError, ProvmarkError } from "../errors.js";
import { locateModel, type ModelFormat } from "./locate.js";
import { floatKind, NonFiniteScanner, nonFiniteError } from "./nonfinite.js";
import { forEachChunk, type GroupLayout, layoutShards, WeightRouter, type WeightSlice } from "./shards.js";

export interface HashOptions {
  /** Only the files digest: for directories that are not TF.js models. */
  filesOnly?: boolean;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

export interface HashResult {
  /** SHA-256 over the sorted `sha256sum` lines of every file (see docs/digests.md). */
  filesDigest: string;
  /** Canonical digest of the weights, independent of sharding and manifest order; null with filesOnly. */
  weightsDigest: string | null;
  format: ModelFormat | null;
  files: FileDigest[];
  totalBytes: number;
  weightCount: number;
}

interface ListedFile {
  path: string;
  abs: string;
  size: number;
}

/**
 * Hashes a model directory (or a weights manifest and its shards) in one streaming pass: every byte
 * is read once and fed to its file's SHA-256 and, for shards, to the SHA-256 of the weight it
 * belongs to. Non-finite weights are refused, since NaN bit patterns would make the digest ambiguous.
 */
export async function hashModel(path: string, options: HashOptions = {}): Promise<HashResult> {
  const abs = resolve(path);
  const st = await stat(abs).catch((e: unknown) => {
    throw fromFsError(e, path);
  });
  const loc = options.filesOnly ? undefined : await locateModel(path);
  const layouts = loc === undefined ? [] : await layoutShards(loc);
  const baseDir = st.isFile() ? dirname(abs) : abs;
  const listed = st.isFile() ? manifestFiles(abs, st.size, layouts) : await listFiles(abs, path);

  const shardOf = new Map<string, { layout: GroupLayout; router: WeightRouter<WeightSink> }>();
  const leaves: WeightLeaf[] = [];
  for (const layout of layouts) {
    const router = new WeightRouter<WeightSink>(layout, weightSinkHandlers(leaves, path));
    for (const s of layout.shards) shardOf.set(s.abs, { layout, router });
  }
  // Shards first, in manifest order, so each group's bytes reach its router in sequence.
  const order = [
    ...layouts.flatMap((l) =>
      l.shards.map((s) => listed.find((f) => f.abs === s.abs) ?? fileEntry(baseDir, s.abs, s.size)),
    ),
    ...listed.filter((f) => !shardOf.has(f.abs)),
  ];
  const totalBytes = order.reduce((a, f) => a + f.size, 0);
  let done = 0;
  const files: FileDigest[] = [];
  for (const f of order) {
    const h = createHash("sha256");
    const route = shardOf.get(f.abs);
    const size = await forEachChunk(f.abs, (chunk) => {
      h.update(chunk);
      route?.router.push(chunk);
      done += chunk.length;
      options.onProgress?.(done, totalBytes);
    });
    if (size !== f.size) {
      throw new ProvmarkError("PATH_UNREADABLE", `${f.path} changed size while it was being hashed`, {
        subject: f.path,
        hints: ["Hash a directory nothing else is writing to."],
      });
    }
    files.push({ path: f.path, size, sha256: h.digest("hex") });
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    filesDigest: filesRoot(files),
    weightsDigest: loc === undefined ? null : weightsRoot(leaves),
    format: loc?.format ?? null,
    files,
    totalBytes,
    weightCount: leaves.length,
  };
}

interface WeightSink {
  hash: Hash;
  scanner: NonFiniteScanner | undefined;
}

function weightSinkHandlers(leaves: WeightLeaf[], shownModel: string) {
  return {
    open: (slice: WeightSlice): WeightSink => {
      const hash = createHash("sha256").update(weightLeafHeader(slice.spec, slice.byteLength));
      const kind = floatKind(slice.spec);
      return { hash, scanner: kind === undefined ? undefined : new NonFiniteScanner(kind) };
    },
    write: (sink: WeightSink, bytes: Uint8Array) => {
      sink.hash.update(bytes);
      sink.scanner?.push(bytes);
    },
    close: (sink: WeightSink, slice: WeightSlice) => {
      if (sink.scanner?.firstBad !== undefined) {
        throw nonFiniteError(slice.spec.name, shownModel, sink.scanner.firstBad);
      }
      leaves.push({ name: slice.spec.name, digest: new Uint8Array(sink.hash.digest()) });
    },
  };
}

function fileEntry(baseDir: string, abs: string, size: number): ListedFile {
  return { path: relative(baseDir, abs).split(sep).join("/"), abs, size };
}

/** A manifest file and its shards: what `hash <manifest.json>` covers. */
function manifestFiles(manifestAbs: string, manifestSize: number, layouts: readonly GroupLayout[]): ListedFile[] {
  const baseDir = dirname(manifestAbs);
  return [
    fileEntry(baseDir, manifestAbs, manifestSize),
    ...layouts.flatMap((l) => l.shards.map((s) => fileEntry(baseDir, s.abs, s.size))),
  ];
}

/** Every regular file below a directory; file symlinks are followed, directory symlinks refused. */
async function listFiles(root: string, shown: string): Promise<ListedFile[]> {
  const out: ListedFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch((e: unknown) => {
      throw fromFsError(e, join(shown, relative(root, dir)));
    });
    for (const e of entries) {
      const abs = join(dir, e.name);
      const rel = relative(root, abs).split(sep).join("/");
      if (e.isDirectory()) {
        await walk(abs);
        continue;
      }
      const st = e.isSymbolicLink() ? await stat(abs).catch((err: unknown) => fail(err, rel)) : await lstat(abs);
      if (st.isDirectory()) {
        throw new ProvmarkError("PATH_SYMLINK_DIR", `${join(shown, rel)} is a symlink to a directory`, {
          subject: join(shown, rel),
          hints: ["Copy the linked files into the model directory, or hash the target directory itself."],
        });
      }
      if (st.isFile()) out.push({ path: rel, abs, size: st.size });
    }
  };
  const fail = (err: unknown, rel: string): never => {
    throw fromFsError(err, join(shown, rel));
  };
  await walk(root);
  if (out.length === 0) {
    throw new ProvmarkError("PATH_NOT_FOUND", `${shown} holds no files`, { subject: shown });
  }
  return out;
}
