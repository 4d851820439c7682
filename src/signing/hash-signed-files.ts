import { createHash } from "node:crypto";
import { lstat, readdir, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { isIgnored, type SignedResource } from "../core/model-signing/index.js";
import { fromFsError, ProvmarkError } from "../errors.js";
import { forEachChunk } from "../model/shards.js";

export interface HashSignedFilesOptions {
  /** Model-relative POSIX paths left out (files, or directories with everything below). */
  ignorePaths: readonly string[];
  /** model-signing's `allow_symlinks`: follow file symlinks instead of refusing them. */
  allowSymlinks: boolean;
}

export interface HashedModel {
  /** The model directory's (or file's) last path component: the statement's subject name. */
  modelName: string;
  resources: SignedResource[];
}

/**
 * Hashes a model as model-signing's `files` serialization does: every regular file below the
 * directory that no ignore path covers, named by its POSIX path relative to the directory (a
 * one-file model is the single resource "."). Symlinks are refused unless allowed; sockets, pipes
 * and directory symlinks always are. Files are streamed, never read whole.
 */
export async function hashSignedFiles(path: string, options: HashSignedFilesOptions): Promise<HashedModel> {
  const abs = resolve(path);
  const modelName = basename(abs);
  const top = await lstat(abs).catch((e: unknown) => {
    throw fromFsError(e, path);
  });
  const root = top.isSymbolicLink() ? await followLink(abs, path, options) : top;
  if (root.isFile()) return { modelName, resources: [{ name: ".", sha256: await sha256File(abs) }] };
  if (!root.isDirectory()) throw special(path);

  const resources: SignedResource[] = [];
  const walk = async (dir: string, relDir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch((e: unknown) => {
      throw fromFsError(e, join(path, relDir));
    });
    for (const e of entries) {
      const rel = relDir === "" ? e.name : `${relDir}/${e.name}`;
      if (isIgnored(rel, options.ignorePaths)) continue;
      const entryAbs = join(dir, e.name);
      const st = e.isSymbolicLink() ? await followLink(entryAbs, join(path, rel), options) : e;
      if (st.isDirectory()) {
        if (e.isSymbolicLink()) {
          throw new ProvmarkError("PATH_SYMLINK_DIR", `${join(path, rel)} is a symlink to a directory`, {
            subject: join(path, rel),
            hints: ["Copy the linked files into the model directory, or sign the target directory itself."],
          });
        }
        await walk(entryAbs, rel);
      } else if (st.isFile()) {
        resources.push({ name: rel, sha256: await sha256File(entryAbs) });
      } else {
        throw special(join(path, rel));
      }
    }
  };
  await walk(abs, "");
  return { modelName, resources };
}

async function followLink(abs: string, shown: string, options: HashSignedFilesOptions) {
  if (!options.allowSymlinks) {
    throw new ProvmarkError("PATH_SYMLINK", `${shown} is a symlink`, {
      subject: shown,
      hints: [
        "model-signing signatures cover regular files only: replace the link by a copy of its target, or list it in --ignore-paths.",
      ],
    });
  }
  return stat(abs).catch((e: unknown) => {
    throw fromFsError(e, shown);
  });
}

const special = (shown: string) =>
  new ProvmarkError("PATH_UNREADABLE", `${shown} is neither a regular file nor a directory`, {
    subject: shown,
    hints: ["Remove sockets, pipes and device files from the model directory, or list them in --ignore-paths."],
  });

async function sha256File(abs: string): Promise<string> {
  const h = createHash("sha256");
  await forEachChunk(abs, (chunk) => h.update(chunk));
  return h.digest("hex");
}
