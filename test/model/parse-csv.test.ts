import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCsv } from "../../src/model/datasets/parse-csv.js";

/** RFC 4180 writer: a field is quoted when it needs to be (or, alone in its record, is empty). */
const write = (rows: string[][], eol: string) =>
  rows
    .map((r) =>
      r.map((f) => (/[",\r\n]/.test(f) || (r.length === 1 && f === "") ? `"${f.replaceAll('"', '""')}"` : f)).join(","),
    )
    .join(eol);

describe("parseCsv", () => {
  it("reads quoted fields with commas, quotes and line breaks, CRLF, a BOM, and skips empty lines", () => {
    const text = '\uFEFFname,"a, b","say ""hi"""\r\n1,"two\r\nlines",3\r\n\r\n4,5,\n';
    expect(parseCsv(text, "f.csv")).toEqual([
      { line: 1, cells: ["name", "a, b", 'say "hi"'] },
      { line: 2, cells: ["1", "two\r\nlines", "3"] },
      { line: 5, cells: ["4", "5", ""] },
    ]);
    expect(parseCsv("a\rb", "f")).toEqual([
      { line: 1, cells: ["a"] },
      { line: 2, cells: ["b"] },
    ]);
    expect(parseCsv("", "f")).toEqual([]);
    expect(parseCsv('""\n', "f")).toEqual([{ line: 1, cells: [""] }]);
  });

  it("reads back what an RFC 4180 writer wrote, with either line ending", () => {
    const cell = fc.string({ unit: fc.constantFrom("a", "1", " ", ",", '"', "\n", "\r", "é", ".") });
    fc.assert(
      fc.property(
        fc.array(fc.array(cell, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 8 }),
        fc.constantFrom("\n", "\r\n"),
        fc.boolean(),
        (rows, eol, trailing) => {
          const parsed = parseCsv(write(rows, eol) + (trailing ? eol : ""), "p");
          expect(parsed.map((r) => r.cells)).toEqual(rows);
        },
      ),
    );
  });

  it("names the line of an unclosed quote, text after a closing quote, and a stray quote", () => {
    const code = { code: "DATASET_CSV_MALFORMED", subject: "t.csv" };
    expect(() => parseCsv('a,b\n1,"2\n3,4\n', "t.csv")).toThrow(
      expect.objectContaining({ ...code, message: "t.csv line 2: a quoted field is never closed" }),
    );
    expect(() => parseCsv('a,b\n"x\ny"z,1', "t.csv")).toThrow(
      expect.objectContaining({ ...code, message: "t.csv line 3, field 1: text after the closing quote" }),
    );
    expect(() => parseCsv('a,b\n1,2"3\n', "t.csv")).toThrow(
      expect.objectContaining({ ...code, message: "t.csv line 2, field 2: a quote inside an unquoted field" }),
    );
  });
});
