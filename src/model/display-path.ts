import { isAbsolute, relative, sep } from "node:path";

/** A path as messages show it: relative to the working directory when inside it, else absolute. */
export function displayPath(abs: string): string {
  const rel = relative(process.cwd(), abs);
  if (rel === "") return abs;
  return rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel) ? abs : rel;
}
