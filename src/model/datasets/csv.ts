import { readFile } from "node:fs/promises";
import type { ModelIO, VectorInput } from "../../core/input/model-io.js";
import { fromFsError, ProvmarkError } from "../../errors.js";
import { takeExamples, type VectorDataset } from "./dataset.js";
import { featureRanges } from "./feature-ranges.js";
import { classNamesOf, type LoadDatasetOptions } from "./load-options.js";
import { type CsvRecord, parseCsv } from "./parse-csv.js";
import { stratifiedSplit } from "./split.js";

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^\d+$/;

/**
 * `csv:<file>` for vector models: a header row, then one example per row. The label column is
 * `labelColumn` (default: the last column); every other column is a feature, in file order (or the
 * model's `featureNames`, picked by name). Features are decimal numbers (no NaN, no empty cells).
 * Labels are mapped through the class names (the model's, else `classNames`), else integer labels
 * are class indices, else the sorted distinct label strings are the classes. Without `io`, the
 * dataset's io records the feature names and each feature's [min, max] over the training split.
 */
export async function loadCsvDataset(file: string, options: LoadDatasetOptions): Promise<VectorDataset> {
  const name = `csv:${file}`;
  const text = await readFile(file, "utf8").catch((e: unknown) => {
    throw fromFsError(e, file);
  });
  const [head, ...rows] = parseCsv(text, file);
  if (head === undefined || rows.length === 0) {
    throw new ProvmarkError("DATASET_EMPTY", `${file} has ${head ? "a header but no rows" : "no header and no rows"}`, {
      subject: file,
      hints: ["A csv: dataset is a header row of column names, then one example per row."],
    });
  }
  const header = checkHeader(head, file);
  const labelAt = labelColumnOf(header, options.labelColumn, file);
  const featureAt = featureColumns(header, labelAt, options.io, name);
  const F = featureAt.length;
  const x = new Float32Array(rows.length * F);
  rows.forEach((row, i) => {
    if (row.cells.length !== header.length) {
      throw new ProvmarkError(
        "DATASET_CSV_MALFORMED",
        `${file} line ${row.line} has ${row.cells.length} fields; the header has ${header.length}`,
        { subject: file, hints: ["Every row needs one value per header column (quote values that hold commas)."] },
      );
    }
    featureAt.forEach((c, f) => {
      x[i * F + f] = numberAt(row, c, header, file);
    });
  });
  const { y, count, names } = labelsOf(rows, labelAt, header, options, file);
  const split = stratifiedSplit(y, "csv", names);
  const all = { x, y, count: rows.length };
  const train = takeExamples(all, split.train, F);
  const input: VectorInput = options.io
    ? (options.io.input as VectorInput)
    : {
        kind: "vector",
        features: F,
        featureNames: featureAt.map((c) => header[c] as string),
        ranges: featureRanges(train, F),
      };
  const io: ModelIO & { input: VectorInput } = options.io
    ? { ...options.io, input }
    : { input, classes: names ? { count, names: [...names] } : { count } };
  return {
    kind: "vector",
    name,
    io,
    inputShape: [F],
    numClasses: io.classes.count,
    labelled: true,
    train,
    test: takeExamples(all, split.test, F),
    splitNote: `${name}: ${rows.length} rows, ${F} features; ${split.note}`,
  };
}

function checkHeader(head: CsvRecord, file: string): string[] {
  const header = head.cells.map((c) => c.trim());
  header.forEach((h, c) => {
    const first = header.indexOf(h);
    if (h === "" || first !== c) {
      throw new ProvmarkError(
        "DATASET_CSV_MALFORMED",
        h === ""
          ? `${file} line ${head.line}: column ${c + 1} has no name`
          : `${file} line ${head.line}: columns ${first + 1} and ${c + 1} are both named ${JSON.stringify(h)}`,
        { subject: file, hints: ["The first row names every column once (features and the label)."] },
      );
    }
  });
  return header;
}

function labelColumnOf(header: readonly string[], wanted: string | undefined, file: string): number {
  const at = wanted === undefined ? header.length - 1 : header.indexOf(wanted);
  if (at >= 0 && header.length >= 2) return at;
  throw new ProvmarkError(
    "DATASET_CSV_LABEL_COLUMN",
    header.length < 2
      ? `${file} has one column: no room for features and a label`
      : `${file} has no column ${JSON.stringify(wanted)}`,
    {
      subject: file,
      hints: [
        `Columns: ${header.map((h) => JSON.stringify(h)).join(", ")}; name the label column with --label-column.`,
      ],
    },
  );
}

/** Column indices of the features: the model's featureNames by name, else every non-label column. */
function featureColumns(header: readonly string[], labelAt: number, io: ModelIO | undefined, name: string): number[] {
  if (io !== undefined && io.input.kind !== "vector") {
    throw new ProvmarkError("DATASET_MODEL_MISMATCH", `${name} is tabular, but the model takes images`, {
      subject: name,
      hints: ["Use images:<dir>, unlabeled:<dir>, idx:<dir> or mnist for an image model."],
    });
  }
  const wanted = io?.input.kind === "vector" ? io.input : undefined;
  const columns = wanted?.featureNames
    ? wanted.featureNames.map((f) => {
        const c = header.indexOf(f);
        if (c < 0 || c === labelAt) {
          throw new ProvmarkError("DATASET_MODEL_MISMATCH", `${name} has no feature column ${JSON.stringify(f)}`, {
            subject: name,
            hints: [`The model takes features ${wanted.featureNames?.map((n) => JSON.stringify(n)).join(", ")}.`],
          });
        }
        return c;
      })
    : header.map((_, c) => c).filter((c) => c !== labelAt);
  if (wanted && columns.length !== wanted.features) {
    throw new ProvmarkError(
      "DATASET_MODEL_MISMATCH",
      `${name} has ${columns.length} feature columns; the model takes ${wanted.features} features`,
      { subject: name, hints: ["Name the label column with --label-column; the other columns are the features."] },
    );
  }
  return columns;
}

function numberAt(row: CsvRecord, c: number, header: readonly string[], file: string): number {
  const cell = (row.cells[c] as string).trim();
  const v = DECIMAL.test(cell) ? Number(cell) : Number.NaN;
  if (Number.isFinite(Math.fround(v))) return v;
  throw new ProvmarkError(
    "DATASET_CSV_NOT_NUMERIC",
    `${file} line ${row.line}, column ${c + 1} (${JSON.stringify(header[c])}): ` +
      `${cell === "" ? "the cell is empty" : `${JSON.stringify(cell)} is not a decimal number`}`,
    { subject: file, hints: ["Feature cells hold decimal numbers (e.g. 3.5, -1e-3); fill in or drop rows with gaps."] },
  );
}

function labelsOf(
  rows: readonly CsvRecord[],
  labelAt: number,
  header: readonly string[],
  options: LoadDatasetOptions,
  file: string,
): { y: Uint16Array; count: number; names: readonly string[] | undefined } {
  const raw = rows.map((r) => (r.cells[labelAt] as string).trim());
  const empty = raw.indexOf("");
  if (empty >= 0) {
    throw new ProvmarkError(
      "DATASET_CSV_MALFORMED",
      `${file} line ${rows[empty]?.line}: the label (column ${JSON.stringify(header[labelAt])}) is empty`,
      { subject: file, hints: ["Every row needs a label; drop unlabelled rows."] },
    );
  }
  const given = classNamesOf(options);
  const integers = raw.every((v) => INTEGER.test(v));
  const byName = given !== undefined && raw.every((v) => given.includes(v));
  const names = byName || !integers ? (given ?? [...new Set(raw)].sort()) : given;
  const count = options.io?.classes.count ?? names?.length ?? raw.reduce((m, v) => Math.max(m, Number(v)), 0) + 1;
  const y = new Uint16Array(raw.length);
  raw.forEach((v, i) => {
    const label = byName || !integers ? (names as readonly string[]).indexOf(v) : Number(v);
    if (label < 0 || label >= count) {
      throw new ProvmarkError(
        "DATASET_CLASS_UNKNOWN",
        `${file} line ${rows[i]?.line}: label ${JSON.stringify(v)} is not ${names ? "a class name" : "a class index"} of the model`,
        {
          subject: file,
          hints: [
            names
              ? `Classes: ${names.map((n) => JSON.stringify(n)).join(", ")} (or their indices 0..${count - 1}).`
              : `Integer labels are class indices 0..${count - 1}.`,
          ],
        },
      );
    }
    y[i] = label;
  });
  if (new Set(y).size < 2) {
    throw new ProvmarkError("DATASET_TOO_FEW_CLASSES", `${file}: every row has the label ${JSON.stringify(raw[0])}`, {
      subject: file,
      hints: ["A classifier's dataset needs examples of 2 classes or more."],
    });
  }
  return { y, count, names };
}
