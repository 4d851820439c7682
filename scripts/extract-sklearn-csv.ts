/**
 * Writes scikit-learn's bundled classification tables as plain CSV (a header row, then one example
 * per row, the class name in the last column `target`) for test/fixtures/tabular/. No Python: the
 * files are read from Debian's python3-sklearn package, unpacked by hand:
 *
 *   cd /tmp && apt-get download python3-sklearn && dpkg -x python3-sklearn_*.deb x
 *   npx tsx scripts/extract-sklearn-csv.ts /tmp/x/usr/lib/python3/dist-packages/sklearn/datasets/data test/fixtures/tabular
 *
 * scikit-learn's files start with a line `n_samples,n_features,class names...` and hold integer
 * class indices in the last column; the feature names live in sklearn/datasets/_base.py (copied
 * below from 1.2.1). Values are copied as written, so the numbers are exactly scikit-learn's.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const WINE = [
  "alcohol",
  "malic_acid",
  "ash",
  "alcalinity_of_ash",
  "magnesium",
  "total_phenols",
  "flavanoids",
  "nonflavanoid_phenols",
  "proanthocyanins",
  "color_intensity",
  "hue",
  "od280/od315_of_diluted_wines",
  "proline",
];
const IRIS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"];
const CANCER = [
  "mean radius",
  "mean texture",
  "mean perimeter",
  "mean area",
  "mean smoothness",
  "mean compactness",
  "mean concavity",
  "mean concave points",
  "mean symmetry",
  "mean fractal dimension",
  "radius error",
  "texture error",
  "perimeter error",
  "area error",
  "smoothness error",
  "compactness error",
  "concavity error",
  "concave points error",
  "symmetry error",
  "fractal dimension error",
  "worst radius",
  "worst texture",
  "worst perimeter",
  "worst area",
  "worst smoothness",
  "worst compactness",
  "worst concavity",
  "worst concave points",
  "worst symmetry",
  "worst fractal dimension",
];

export const TABLES = {
  breast_cancer: CANCER,
  wine_data: WINE,
  iris: IRIS,
} as const satisfies Record<string, readonly string[]>;

/** One field as RFC 4180 writes it: quoted only when it holds a comma, a quote or a line break. */
const field = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

/** scikit-learn's format (counts and class names first, integer targets) → header + rows, class names. */
export function sklearnToCsv(text: string, featureNames: readonly string[], file: string): string {
  const [first, ...rows] = text.split(/\r?\n/).filter((l) => l.length > 0);
  const [samples, features, ...classes] = (first ?? "").split(",");
  if (Number(features) !== featureNames.length || Number(samples) !== rows.length) {
    throw new Error(
      `${file}: the first line says ${samples} × ${features}, found ${rows.length} × ${featureNames.length}`,
    );
  }
  const out = [[...featureNames, "target"].map(field).join(",")];
  rows.forEach((row, i) => {
    const cells = row.split(",");
    const name = classes[Number(cells.at(-1))];
    if (cells.length !== featureNames.length + 1 || name === undefined) {
      throw new Error(`${file} line ${i + 2}: ${cells.length} fields, target ${cells.at(-1)}`);
    }
    out.push([...cells.slice(0, -1), field(name)].join(","));
  });
  return `${out.join("\n")}\n`;
}

if (process.argv[1]?.endsWith("extract-sklearn-csv.ts")) {
  const [from, to] = process.argv.slice(2);
  if (from === undefined || to === undefined) {
    process.stderr.write("usage: tsx scripts/extract-sklearn-csv.ts <sklearn/datasets/data> <out dir>\n");
    process.exit(2);
  }
  for (const [name, features] of Object.entries(TABLES)) {
    const file = join(from, `${name}.csv`);
    writeFileSync(join(to, `${name}.csv`), sklearnToCsv(readFileSync(file, "utf8"), features, file));
  }
}
