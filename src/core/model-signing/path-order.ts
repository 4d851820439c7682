/**
 * Orders POSIX relative paths as Python's `PurePosixPath` does: component by component, each
 * compared by Unicode code point (not UTF-16 unit, which differs above U+FFFF). So `a/b` sorts
 * before `a-b`, unlike a plain string sort.
 */
export function comparePosixPaths(a: string, b: string): number {
  const pa = a.split("/").filter((p) => p !== "" && p !== ".");
  const pb = b.split("/").filter((p) => p !== "" && p !== ".");
  const n = Math.min(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const c = compareCodePoints(pa[i] ?? "", pb[i] ?? "");
    if (c !== 0) return c;
  }
  return pa.length - pb.length;
}

function compareCodePoints(a: string, b: string): number {
  const ca = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const cb = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  const n = Math.min(ca.length, cb.length);
  for (let i = 0; i < n; i++) {
    const d = (ca[i] ?? 0) - (cb[i] ?? 0);
    if (d !== 0) return d;
  }
  return ca.length - cb.length;
}
