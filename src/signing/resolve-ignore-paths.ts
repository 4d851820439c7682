import { isAbsolute, relative, resolve, sep } from "node:path";
import { GIT_IGNORE_PATHS, normalizeRelative } from "../core/model-signing/index.js";

/**
 * model_signing's ignore list: the given paths (relative to the current directory, as on its
 * command line) and the signature file, each kept only when inside the model, then the git paths
 * unless `ignoreGitPaths` is false. Returned relative to the model, POSIX, without duplicates.
 */
export function resolveIgnorePaths(
  modelPath: string,
  paths: readonly string[],
  { signaturePath, ignoreGitPaths }: { signaturePath?: string; ignoreGitPaths: boolean },
): string[] {
  const root = resolve(modelPath);
  const out = new Set<string>();
  for (const p of signaturePath === undefined ? paths : [...paths, signaturePath]) {
    const rel = relative(root, isAbsolute(p) ? p : resolve(p));
    if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) continue;
    out.add(normalizeRelative(rel));
  }
  if (ignoreGitPaths) for (const g of GIT_IGNORE_PATHS) out.add(g);
  return [...out];
}
