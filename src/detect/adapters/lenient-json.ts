/**
 * JSON parsing for suspect answers. TF Serving (rapidjson) and some Python servers write the bare
 * tokens `NaN`, `Infinity` and `-Infinity`, which `JSON.parse` rejects as a whole; here they become
 * the NONFINITE marker, so only the items holding them fail (as "nonfinite").
 */

/** Stands in for a bare NaN / ±Infinity token (and for numbers too large for a double). */
export const NONFINITE: unique symbol = Symbol("nonfinite");

const MARK = "\u0000provmark-nonfinite";
/** MARK as JSON text (the NUL escaped, as JSON requires). */
const MARK_JSON = JSON.stringify(MARK);

export type ParsedBody = { ok: true; value: unknown } | { ok: false; detail: string };

const decoder = new TextDecoder("utf-8", { fatal: false });

/** Decodes and parses a response body; an HTML page or other non-JSON text is a short description. */
export function parseBody(body: Uint8Array): ParsedBody {
  const text = decoder.decode(body);
  const trimmed = text.trimStart();
  if (trimmed.length === 0) return { ok: false, detail: "empty response body" };
  if (trimmed.startsWith("<")) return { ok: false, detail: `response is HTML or XML, not JSON (${preview(trimmed)})` };
  const source = /NaN|Infinity/.test(text) ? markNonFinite(text) : text;
  try {
    return { ok: true, value: JSON.parse(source, revive) };
  } catch (e) {
    return { ok: false, detail: `response is not valid JSON (${(e as Error).message}; ${preview(trimmed)})` };
  }
}

function revive(_key: string, v: unknown): unknown {
  if (v === MARK) return NONFINITE;
  if (typeof v === "number" && !Number.isFinite(v)) return NONFINITE;
  return v;
}

/** Replaces bare NaN / Infinity / -Infinity tokens outside strings with a marker string. */
function markNonFinite(text: string): string {
  let out = "";
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      continue;
    }
    for (const token of ["NaN", "Infinity", "-Infinity"]) {
      if (text.startsWith(token, i)) {
        out += `${text.slice(from, i)}${MARK_JSON}`;
        i += token.length - 1;
        from = i + 1;
        break;
      }
    }
  }
  return out + text.slice(from);
}

/** The first characters of a body, printable, for failure details. */
export function preview(text: string, max = 60): string {
  const flat = text.replace(/\s+/g, " ").replace(/[^\x20-\x7e]/g, "?");
  return JSON.stringify(flat.length > max ? `${flat.slice(0, max)}…` : flat);
}
