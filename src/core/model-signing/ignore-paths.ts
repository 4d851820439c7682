/** What model_signing ignores unless told `--no-ignore-git-paths`. */
export const GIT_IGNORE_PATHS = [".git", ".gitattributes", ".github", ".gitignore"] as const;

/** Normalises a model-relative path to POSIX form without `.` parts or trailing slashes. */
export function normalizeRelative(p: string): string {
  return p
    .split(/[\\/]+/)
    .filter((s) => s !== "" && s !== ".")
    .join("/");
}

/**
 * Whether a model-relative path is ignored: equal to an ignore path or below it (an ignored
 * directory takes its children along), as Python's `Path.is_relative_to` decides it.
 */
export function isIgnored(rel: string, ignorePaths: readonly string[]): boolean {
  const r = normalizeRelative(rel);
  return ignorePaths.some((raw) => {
    const i = normalizeRelative(raw);
    return i === "" ? true : r === i || r.startsWith(`${i}/`);
  });
}
