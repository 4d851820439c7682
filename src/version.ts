import { readFileSync } from "node:fs";

/** provmark's version, from package.json (two levels up from both src/ and dist/src/). */
function readVersion(): string {
  for (const rel of ["../package.json", "../../package.json"]) {
    try {
      const p = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (p.name === "provmark" && p.version) return p.version;
    } catch {
      // not at this level
    }
  }
  return "0.0.0";
}

export const VERSION = readVersion();
