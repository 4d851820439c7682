import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { sklearnToCsv, TABLES } from "../../scripts/extract-sklearn-csv.js";
import { parseCsv } from "../../src/model/datasets/parse-csv.js";

describe("extract-sklearn-csv", () => {
  it("turns scikit-learn's counts line and integer targets into a header and class names", () => {
    const ok = "3,2,setosa,virginica\n5.1,3.5,0\n4.9,3.0,1\n6.0,2.2,0\n";
    expect(sklearnToCsv(ok, ["len (cm)", 'w,"x"'], "x.csv")).toBe(
      'len (cm),"w,""x""",target\n5.1,3.5,setosa\n4.9,3.0,virginica\n6.0,2.2,setosa\n',
    );
    expect(() => sklearnToCsv(ok, ["a"], "x.csv")).toThrow(/says 3 × 2, found 3 × 1/);
    expect(() => sklearnToCsv("2,2,a,b\n1,2,0\n", ["a", "b"], "x.csv")).toThrow(/says 2 × 2, found 1 × 2/);
    expect(() => sklearnToCsv("1,2,a,b\n1,2,7\n", ["a", "b"], "x.csv")).toThrow(/x\.csv line 2: 3 fields, target 7/);
  });

  it("the vendored tables have the scripted headers", async () => {
    for (const [name, features] of Object.entries(TABLES)) {
      const text = await readFile(new URL(`../fixtures/tabular/${name}.csv`, import.meta.url), "utf8");
      expect(parseCsv(text, name)[0]?.cells).toEqual([...features, "target"]);
    }
  });
});
