import type { ImageInput, ModelIO } from "../../core/input/model-io.js";
import { ProvmarkError } from "../../errors.js";

export interface LoadDatasetOptions {
  /**
   * The model's input and classes. Images are decoded, resized and preprocessed for it, class
   * folders and CSV labels are mapped through its class names, and the dataset's `io` is this one.
   * Without it each loader infers one (documented there).
   */
  readonly io?: ModelIO;
  /** csv: the header name of the label column (default: the last column). */
  readonly labelColumn?: string;
  /** Class names when `io` has none (e.g. `--class-names`): the order fixes the class indices. */
  readonly classNames?: readonly string[];
  /** Accept `unlabeled:<dir>` (no labels, `labelled: false`); otherwise it is DATASET_UNLABELLED. */
  readonly allowUnlabelled?: boolean;
}

/** The class names that fix label order: the model's, else the caller's; checked for repeats. */
export function classNamesOf(options: LoadDatasetOptions): readonly string[] | undefined {
  const fromIo = options.io?.classes.names;
  const given = options.classNames;
  if (fromIo && given && fromIo.join("\0") !== given.join("\0")) {
    throw new ProvmarkError(
      "USAGE",
      `class names ${JSON.stringify(given)} differ from the model's ${JSON.stringify(fromIo)}`,
      {
        subject: "--class-names",
        hints: ["Leave out --class-names: the model's own names are used."],
      },
    );
  }
  const names = fromIo ?? given;
  if (names === undefined) return undefined;
  const seen = new Set<string>();
  for (const n of names) {
    if (n.length === 0 || seen.has(n)) {
      throw new ProvmarkError(
        "USAGE",
        `class names ${JSON.stringify(names)} ${n.length === 0 ? "include an empty name" : `repeat ${JSON.stringify(n)}`}`,
        {
          subject: "--class-names",
          hints: ["Give each class one distinct, non-empty name, in the model's output order."],
        },
      );
    }
    seen.add(n);
  }
  if (options.io && names.length !== options.io.classes.count) {
    throw new ProvmarkError(
      "USAGE",
      `${names.length} class names for a model with ${options.io.classes.count} classes`,
      {
        subject: "--class-names",
        hints: ["Name every output class of the model, in its output order."],
      },
    );
  }
  return names;
}

/** The model's image input, or DATASET_MODEL_MISMATCH when the model takes vectors. */
export function imageInputOf(io: ModelIO, spec: string): ImageInput {
  if (io.input.kind === "image") return io.input;
  throw new ProvmarkError(
    "DATASET_MODEL_MISMATCH",
    `${spec} holds images, but the model takes vectors of ${io.input.features} features`,
    {
      subject: spec,
      hints: ["Use a csv:<file> dataset for a tabular model."],
    },
  );
}
