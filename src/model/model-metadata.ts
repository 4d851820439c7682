import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fromFsError, ProvmarkError } from "../errors.js";
import { displayPath } from "./display-path.js";

/** The file exporters (Teachable Machine, ml5) write beside model.json with labels and versions. */
export const METADATA_FILE = "metadata.json";
const TM_IMAGE_PACKAGE = "@teachablemachine/image";

export interface ModelMetadata {
  /** Where it was read from, for messages. */
  path: string;
  /** Class names in output order, when the file has `labels`. */
  labels: string[] | undefined;
  /**
   * Set for Teachable Machine exports: `image` for image models (package @teachablemachine/image, or
   * 2019 exports that predate the package field), `other` for pose and audio projects.
   */
  teachableMachine: { kind: "image" | "other"; version: string | undefined } | undefined;
}

/**
 * Reads metadata.json from a model's directory, if there is one. Teachable Machine exports are
 * recognised by their `labels` together with a `@teachablemachine/*` packageName, or, in exports
 * older than that field, `tmVersion` or `tfjsVersion`. Another packageName means another exporter.
 * @throws ProvmarkError MODEL_METADATA_INVALID when the file is not JSON or its fields have wrong types
 */
export async function readModelMetadata(dir: string): Promise<ModelMetadata | undefined> {
  const file = join(dir, METADATA_FILE);
  const shown = displayPath(file);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw fromFsError(e, shown);
  }
  const bad = (what: string) =>
    new ProvmarkError("MODEL_METADATA_INVALID", `${shown} ${what}`, {
      subject: shown,
      hints: ["Restore the file from the model's export, or remove it and pass --class-names and --preprocess."],
    });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bad(`is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw bad("is not a JSON object");
  const m = json as Record<string, unknown>;
  for (const field of ["packageName", "packageVersion", "tmVersion", "tfjsVersion"]) {
    if (m[field] !== undefined && typeof m[field] !== "string") throw bad(`has a non-string ${field}`);
  }
  let labels: string[] | undefined;
  if (m.labels !== undefined) {
    if (!Array.isArray(m.labels) || !m.labels.every((l) => typeof l === "string")) {
      throw bad("has `labels` that is not a list of strings");
    }
    labels = m.labels;
  }
  const pkg = m.packageName as string | undefined;
  const tm =
    labels !== undefined &&
    (pkg === undefined
      ? m.tmVersion !== undefined || m.tfjsVersion !== undefined
      : pkg.startsWith("@teachablemachine/"));
  return {
    path: shown,
    labels,
    teachableMachine: tm
      ? {
          kind: pkg === undefined || pkg === TM_IMAGE_PACKAGE ? "image" : "other",
          version: (m.tmVersion as string | undefined) ?? (m.packageVersion as string | undefined),
        }
      : undefined,
  };
}
