import { sha256 } from "@noble/hashes/sha2.js";
import { compareUtf8, toHex, utf8 } from "./bytes.js";

export interface FileDigest {
  /** Path relative to the model directory, '/'-separated. */
  readonly path: string;
  readonly size: number;
  /** Lower-case hex SHA-256 of the file's bytes. */
  readonly sha256: string;
}

/**
 * The line `sha256sum` prints for a file, including GNU's escaping of names holding '\' or newline,
 * so that the files root can be reproduced with coreutils alone (see docs/digests.md).
 */
export function sha256sumLine(f: Pick<FileDigest, "path" | "sha256">): string {
  if (f.path.includes("\\") || f.path.includes("\n")) {
    return `\\${f.sha256}  ${f.path.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")}\n`;
  }
  return `${f.sha256}  ${f.path}\n`;
}

/**
 * Files digest of a model directory: SHA-256 over the `sha256sum` lines of every file, sorted by path
 * in byte order. Binds names and contents; equal to
 * `find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum | sha256sum`.
 *
 * @example filesRoot([{ path: "model.json", size: 2, sha256: "ab..." }]) // "5f3c..."
 */
export function filesRoot(files: readonly FileDigest[]): string {
  const sorted = [...files].sort((a, b) => compareUtf8(a.path, b.path));
  const h = sha256.create();
  for (const f of sorted) h.update(utf8(sha256sumLine(f)));
  return toHex(h.digest());
}
