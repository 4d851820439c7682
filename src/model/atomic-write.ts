import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fromFsError, ProvmarkError } from "../errors.js";
import { fsyncDir, fsyncTree } from "./durable-io.js";

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/**
 * Refuses an existing output before any work starts (training, embedding), so a long job never ends
 * in OUTPUT_EXISTS; `hint` tells the user what to do instead.
 */
export async function assertOutputFree(out: string, overwrite: boolean, hint: string): Promise<void> {
  if (!overwrite && (await exists(out))) {
    throw new ProvmarkError("OUTPUT_EXISTS", `${out} exists already`, { subject: out, hints: [hint] });
  }
}

/**
 * Writes a directory atomically: `fill` writes into a fresh temp sibling, whose files are fsynced
 * before it is renamed into place (and the parent directory after), so neither an error nor a crash
 * or power loss leaves a half-written output. An existing output is refused unless `overwrite`, and
 * then replaced only after the new one is complete.
 */
export async function writeDirAtomic(
  out: string,
  fill: (tmpDir: string) => Promise<void>,
  { overwrite = false }: { overwrite?: boolean } = {},
): Promise<void> {
  await assertOutputFree(out, overwrite, "Choose another --out path, or pass --force to replace it.");
  const parent = dirname(out);
  await mkdir(parent, { recursive: true }).catch((e: unknown) => {
    throw fromFsError(e, parent, "create");
  });
  const tag = randomBytes(6).toString("hex");
  const tmp = join(parent, `.${basename(out)}.tmp-${tag}`);
  try {
    await mkdir(tmp, { recursive: false });
    await fill(tmp);
    await fsyncTree(tmp);
    if (await exists(out)) {
      const old = join(parent, `.${basename(out)}.old-${tag}`);
      await rename(out, old);
      await rename(tmp, out);
      await fsyncDir(parent);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, out);
      await fsyncDir(parent);
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (e instanceof ProvmarkError) throw e;
    throw new ProvmarkError("OUTPUT_WRITE_FAILED", `could not write ${out}: ${(e as Error).message}`, {
      subject: out,
      cause: e,
    });
  }
}

/**
 * Writes a file atomically, with the given mode: a temp file in the same directory, fsynced, renamed
 * over `path`, then the directory fsynced, so after a crash `path` holds the old or the new content.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${randomBytes(6).toString("hex")}`);
  try {
    await mkdir(dir, { recursive: true });
    const handle = await open(tmp, "wx", mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    await fsyncDir(dir);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new ProvmarkError("OUTPUT_WRITE_FAILED", `could not write ${path}: ${(e as Error).message}`, {
      subject: path,
      cause: e,
    });
  }
}
