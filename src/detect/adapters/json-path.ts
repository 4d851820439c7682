/**
 * Dot/bracket paths into parsed JSON: `data.result`, `outputs[0].data`, `["class name"]`. The empty
 * path (or `$`) is the value itself.
 */
export type PathSegment = string | number;

/** Parses a path; throws a RangeError (with the reason) for a malformed one. */
export function parsePath(path: string): PathSegment[] {
  const p = path.startsWith("$") ? path.slice(1) : path;
  const out: PathSegment[] = [];
  let i = 0;
  while (i < p.length) {
    const ch = p[i];
    if (ch === ".") {
      i++;
      const m = /^[^.[\]]+/.exec(p.slice(i));
      if (m === null) throw new RangeError(`empty name after "." at ${i} in ${JSON.stringify(path)}`);
      out.push(m[0]);
      i += m[0].length;
    } else if (ch === "[") {
      const rest = p.slice(i);
      const index = /^\[(\d+)\]/.exec(rest);
      const quoted = /^\[("(?:[^"\\]|\\.)*"|'[^']*')\]/.exec(rest);
      if (index !== null) {
        out.push(Number(index[1]));
        i += index[0].length;
      } else if (quoted !== null) {
        const q = quoted[1] as string;
        out.push(q.startsWith('"') ? (JSON.parse(q) as string) : q.slice(1, -1));
        i += quoted[0].length;
      } else {
        throw new RangeError(`expected [number] or ["name"] at ${i} in ${JSON.stringify(path)}`);
      }
    } else if (i === 0) {
      const m = /^[^.[\]]+/.exec(p) as RegExpExecArray;
      out.push(m[0]);
      i += m[0].length;
    } else {
      throw new RangeError(`unexpected ${JSON.stringify(ch)} at ${i} in ${JSON.stringify(path)}`);
    }
  }
  return out;
}

/** The value at `path`, or `undefined` with the first segment that was missing. */
export function getPath(
  value: unknown,
  path: readonly PathSegment[],
): { found: true; value: unknown } | { found: false; missing: string } {
  let v = value;
  for (const [i, seg] of path.entries()) {
    const ok =
      typeof seg === "number"
        ? Array.isArray(v) && seg < v.length
        : v !== null && typeof v === "object" && !Array.isArray(v) && Object.hasOwn(v, seg);
    if (!ok) return { found: false, missing: formatPath(path.slice(0, i + 1)) };
    v = (v as Record<string | number, unknown>)[seg];
  }
  return { found: true, value: v };
}

export function formatPath(path: readonly PathSegment[]): string {
  let s = "";
  for (const seg of path) {
    if (typeof seg === "number") s += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) s += s === "" ? seg : `.${seg}`;
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s === "" ? "$" : s;
}
