import type { SignedResource } from "./statement.js";

export interface ManifestDiff {
  /** In the model, not in the signature. */
  extra: string[];
  /** In the signature, not in the model. */
  missing: string[];
  changed: { name: string; signed: string; actual: string }[];
}

/** How the model differs from what was signed (model names never count: renaming a model dir is fine). */
export function diffManifest(signed: readonly SignedResource[], actual: readonly SignedResource[]): ManifestDiff {
  const s = new Map(signed.map((r) => [r.name, r.sha256]));
  const a = new Map(actual.map((r) => [r.name, r.sha256]));
  const changed: ManifestDiff["changed"] = [];
  for (const [name, digest] of s) {
    const got = a.get(name);
    if (got !== undefined && got !== digest) changed.push({ name, signed: digest, actual: got });
  }
  return {
    extra: [...a.keys()].filter((n) => !s.has(n)).sort(),
    missing: [...s.keys()].filter((n) => !a.has(n)).sort(),
    changed: changed.sort((x, y) => (x.name < y.name ? -1 : 1)),
  };
}

export const isEmptyDiff = (d: ManifestDiff): boolean =>
  d.extra.length === 0 && d.missing.length === 0 && d.changed.length === 0;
