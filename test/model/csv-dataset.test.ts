import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { legacyModelIO, type ModelIO } from "../../src/core/input/model-io.js";
import type { VectorDataset } from "../../src/model/datasets/dataset.js";
import { featureRanges } from "../../src/model/datasets/feature-ranges.js";
import { type LoadDatasetOptions, loadDataset } from "../../src/model/datasets/index.js";
import { testCount } from "../../src/model/datasets/split.js";
import { tempDir } from "../helpers/fixtures.js";

const TABULAR = new URL("../fixtures/tabular/", import.meta.url).pathname;
async function load(spec: string, o: LoadDatasetOptions = {}): Promise<VectorDataset> {
  const d = await loadDataset(spec, { ...o, accept: "any" });
  if (d.kind !== "vector") throw new Error(`${spec} loaded as ${d.kind} data`);
  return d;
}
const perClass = (y: Uint16Array) => {
  const counts: Record<number, number> = {};
  for (const v of y) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
};

async function csv(text: string): Promise<string> {
  const file = join(await tempDir(), "t.csv");
  await writeFile(file, text);
  return file;
}

describe("csv:<file>", () => {
  it("loads scikit-learn's breast cancer table: 569 rows, 30 features, stratified split, train ranges", async () => {
    const file = join(TABULAR, "breast_cancer.csv");
    const d = await load(`csv:${file}`);
    expect([d.kind, d.inputShape, d.numClasses, d.labelled]).toEqual(["vector", [30], 2, true]);
    expect(d.io.classes.names).toEqual(["benign", "malignant"]);
    const counts = perClass(new Uint16Array([...d.train.y, ...d.test.y]));
    expect(counts).toEqual({ 0: 357, 1: 212 });
    expect(perClass(d.test.y)).toEqual({ 0: testCount(357), 1: testCount(212) });
    // the values are the file's numbers (read here with a plain split: the file has no quotes)
    const rows = (await readFile(file, "utf8"))
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split(","));
    const all = new Set(
      rows.map((r) =>
        r
          .slice(0, 30)
          .map((v) => Math.fround(Number(v)))
          .join(),
      ),
    );
    for (let i = 0; i < d.test.count; i++)
      expect(all.has(Array.from(d.test.x.subarray(i * 30, (i + 1) * 30)).join())).toBe(true);
    expect(d.io.input.featureNames?.slice(0, 2)).toEqual(["mean radius", "mean texture"]);
    // ranges come from the training split only
    expect(d.io.input.ranges).toEqual(featureRanges(d.train, 30));
    const both = featureRanges(
      { x: new Float32Array([...d.train.x, ...d.test.x]), y: new Uint16Array(0), count: 569 },
      30,
    );
    expect(d.io.input.ranges).not.toEqual(both);
  });

  it("maps labels through the given class names (scikit-learn's order), or by index for integer labels", async () => {
    const wine = join(TABULAR, "wine_data.csv");
    const named = await load(`csv:${wine}`, { classNames: ["class_2", "class_1", "class_0"], labelColumn: "target" });
    expect(perClass(new Uint16Array([...named.train.y, ...named.test.y]))).toEqual({ 0: 48, 1: 71, 2: 59 });
    const ints = await csv("a,b,label\n1,2,0\n3,4,1\n5,6,2\n7,8,1\n9,10,0\n");
    const d = await load(`csv:${ints}`);
    expect([d.numClasses, d.io.classes.names, d.train.count + d.test.count]).toEqual([3, undefined, 5]);
    const withNames = await load(`csv:${ints}`, { classNames: ["x", "y", "z"] });
    expect(Array.from(withNames.train.y)).toEqual(Array.from(d.train.y));
    await expect(load(`csv:${ints}`, { classNames: ["x", "y"] })).rejects.toMatchObject({
      code: "DATASET_CLASS_UNKNOWN",
      message: expect.stringContaining('line 4: label "2"'),
    });
  });

  it("takes the label column by name anywhere, and the model's features by name in its order", async () => {
    const file = await csv('"x, first",label,y\r\n1,a,10\r\n2,b,20\r\n3,a,30\r\n4,b,40\r\n');
    const d = await load(`csv:${file}`, { labelColumn: "label" });
    expect(d.io.input.featureNames).toEqual(["x, first", "y"]);
    const io: ModelIO = {
      input: {
        kind: "vector",
        features: 2,
        featureNames: ["y", "x, first"],
        ranges: [
          [0, 50],
          [0, 5],
        ],
      },
      classes: { count: 2, names: ["b", "a"] },
    };
    const m = await load(`csv:${file}`, { labelColumn: "label", io });
    expect(m.io).toEqual(io);
    const row = (s: VectorDataset["train"], i: number) => Array.from(s.x.subarray(2 * i, 2 * i + 2));
    expect(row(m.train, 0)).toEqual([...row(d.train, 0)].reverse());
    expect(Array.from(m.train.y, (v) => 1 - v)).toEqual(Array.from(d.train.y));
  });

  it("names the line and column of non-numeric cells", async () => {
    for (const [cell, why] of [
      ["abc", '"abc" is not a decimal number'],
      ["", "the cell is empty"],
      ["NaN", '"NaN" is not a decimal number'],
      ["0x10", '"0x10" is not a decimal number'],
      ["1e999", '"1e999" is not a decimal number'],
    ]) {
      const file = await csv(`f1,f2,c\n1,2,a\n3,${cell},b\n`);
      await expect(load(`csv:${file}`)).rejects.toMatchObject({
        code: "DATASET_CSV_NOT_NUMERIC",
        message: `${file} line 3, column 2 ("f2"): ${why}`,
      });
    }
    const ok = await csv("f1,f2,c\n+1.5,-.5,a\n 3e-2 ,4.,b\n");
    expect(Array.from((await load(`csv:${ok}`)).train.x)).toEqual([1.5, -0.5, 0.03, 4].map(Math.fround));
  });

  it("refuses ragged rows, bad headers, a missing label column, empty files, one class and empty labels", async () => {
    const cases: [string, LoadDatasetOptions, string, string][] = [
      ["a,b,c\n1,2,x\n3,4\n", {}, "DATASET_CSV_MALFORMED", "line 3 has 2 fields; the header has 3"],
      ["a,a,c\n1,2,x\n", {}, "DATASET_CSV_MALFORMED", 'columns 1 and 2 are both named "a"'],
      ["a,,c\n1,2,x\n", {}, "DATASET_CSV_MALFORMED", "column 2 has no name"],
      ["a,b,c\n1,2,x\n3,4,y\n", { labelColumn: "class" }, "DATASET_CSV_LABEL_COLUMN", 'has no column "class"'],
      ["c\nx\ny\n", {}, "DATASET_CSV_LABEL_COLUMN", "has one column"],
      ["", {}, "DATASET_EMPTY", "no header and no rows"],
      ["a,b,c\n\n", {}, "DATASET_EMPTY", "a header but no rows"],
      ["a,b,c\n1,2,x\n3,4,x\n", {}, "DATASET_TOO_FEW_CLASSES", 'every row has the label "x"'],
      ["a,b,c\n1,2,x\n3,4, \n", {}, "DATASET_CSV_MALFORMED", 'line 3: the label (column "c") is empty'],
      ["a,b,c\n1,2,x\n3,4,y\n", { classNames: ["x", "z"] }, "DATASET_CLASS_UNKNOWN", 'line 3: label "y"'],
    ];
    for (const [text, options, code, message] of cases) {
      const file = await csv(text);
      await expect(load(`csv:${file}`, options)).rejects.toMatchObject({
        code,
        message: expect.stringContaining(message),
      });
    }
  });

  it("refuses a model that takes images or other features, and image-only callers", async () => {
    const iris = `csv:${join(TABULAR, "iris.csv")}`;
    const vector = (features: number, featureNames?: string[]): ModelIO => ({
      input: {
        kind: "vector",
        features,
        ranges: Array(features).fill([0, 1]),
        ...(featureNames ? { featureNames } : {}),
      },
      classes: { count: 3 },
    });
    await expect(load(iris, { io: vector(4) })).resolves.toMatchObject({ numClasses: 3 });
    for (const io of [vector(5), vector(4, ["a", "b", "c", "d"]), legacyModelIO([2, 2, 1], 3)]) {
      await expect(load(iris, { io })).rejects.toMatchObject({ code: "DATASET_MODEL_MISMATCH" });
    }
    await expect(loadDataset(iris)).rejects.toMatchObject({ code: "DATASET_MODEL_MISMATCH" });
  });
});
