import { ProvmarkError } from "../../errors.js";

export interface CsvRecord {
  /** 1-based line the record starts on. */
  readonly line: number;
  readonly cells: string[];
}

const malformed = (file: string, message: string) =>
  new ProvmarkError("DATASET_CSV_MALFORMED", `${file} ${message}`, {
    subject: file,
    hints: ['CSV as in RFC 4180: comma-separated; a field with commas, quotes or line breaks is quoted, "" inside.'],
  });

/**
 * RFC 4180 CSV: comma separators, fields optionally in double quotes (`""` for a quote inside, line
 * breaks allowed), records ended by CRLF, LF or CR. A leading UTF-8 BOM is dropped and empty lines
 * are skipped. Cells are returned as written (no trimming); a quote inside an unquoted field, text
 * after a closing quote, or an unclosed quote is DATASET_CSV_MALFORMED naming the line.
 */
export function parseCsv(text: string, file: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let start = 1;
  let cells: string[] = [];
  let quoted = false;
  while (i < n || cells.length > 0) {
    let value: string;
    if (text[i] === '"') {
      quoted = true;
      const opened = line;
      let buf = "";
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw malformed(file, `line ${opened}: a quoted field is never closed`);
        const chunk = text.slice(i, q);
        line += newlines(chunk);
        buf += chunk;
        i = q + 1;
        if (text[i] !== '"') break;
        buf += '"';
        i++;
      }
      const after = text[i];
      if (after !== undefined && after !== "," && after !== "\n" && after !== "\r") {
        throw malformed(file, `line ${line}, field ${cells.length + 1}: text after the closing quote`);
      }
      value = buf;
    } else {
      let j = i;
      while (j < n && text[j] !== "," && text[j] !== "\n" && text[j] !== "\r") j++;
      value = text.slice(i, j);
      if (value.includes('"')) {
        throw malformed(file, `line ${line}, field ${cells.length + 1}: a quote inside an unquoted field`);
      }
      i = j;
    }
    cells.push(value);
    if (text[i] === ",") {
      i++;
      if (i === n) cells.push("");
      else continue;
    }
    if (quoted || cells.length > 1 || cells[0] !== "") records.push({ line: start, cells });
    cells = [];
    quoted = false;
    if (i >= n) break;
    i += text[i] === "\r" && text[i + 1] === "\n" ? 2 : 1;
    line++;
    start = line;
  }
  return records;
}

function newlines(s: string): number {
  let k = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "\n" || (c === "\r" && s[i + 1] !== "\n")) k++;
  }
  return k;
}
