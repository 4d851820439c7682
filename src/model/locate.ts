import { readdir, readFile, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, normalize, resolve, sep } from "node:path";
import type { z } from "zod";
import { fromFsError, ProvmarkError } from "../errors.js";
import {
  type ModelJson,
  modelJsonSchema,
  QUANTIZED_DTYPES,
  storedBytesPerElement,
  WEIGHT_DTYPES,
  type WeightsGroup,
  weightsManifestSchema,
} from "./manifest-schema.js";

export type ModelFormat = "layers-model" | "graph-model" | "weights-manifest";

/** A model found on disk: where its manifest is and what it declares. Nothing is read beyond JSON. */
export interface ModelLocation {
  readonly format: ModelFormat;
  /** Directory the shard paths are relative to. */
  readonly dir: string;
  readonly manifestPath: string;
  readonly modelJson: ModelJson | undefined;
  readonly groups: readonly WeightsGroup[];
}

const MANIFEST_SUFFIX = "weights_manifest.json";

/** Finds the model in a directory (model.json, else one `*weights_manifest.json`) or at a manifest file. */
export async function locateModel(path: string): Promise<ModelLocation> {
  const abs = resolve(path);
  const st = await stat(abs).catch((e: unknown) => {
    throw fromFsError(e, path);
  });
  if (st.isFile()) return parseManifestFile(abs, path);
  const entries = await readdir(abs).catch((e: unknown) => {
    throw fromFsError(e, path);
  });
  if (entries.includes("model.json")) return parseManifestFile(join(abs, "model.json"), join(path, "model.json"));
  const manifests = entries.filter((e) => e.endsWith(MANIFEST_SUFFIX)).sort();
  if (manifests.length === 1) {
    const m = manifests[0] as string;
    return parseManifestFile(join(abs, m), join(path, m));
  }
  if (manifests.length > 1) {
    throw new ProvmarkError("MODEL_FORMAT_UNSUPPORTED", `${path} holds ${manifests.length} weights manifests`, {
      subject: path,
      hints: [`Name one manifest file instead of the directory, e.g. ${join(path, manifests[0] as string)}`],
    });
  }
  throw new ProvmarkError("MODEL_NOT_FOUND", `${path} is not a TensorFlow.js model directory (no model.json)`, {
    subject: path,
    hints: [
      "A TF.js model directory holds model.json plus weight shards (*.bin), or a *weights_manifest.json.",
      "To hash an arbitrary directory, use `provmark hash --files-only`.",
    ],
  });
}

async function parseManifestFile(abs: string, shown: string): Promise<ModelLocation> {
  const text = await readFile(abs, "utf8").catch((e: unknown) => {
    throw fromFsError(e, shown);
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ProvmarkError("MODEL_JSON_INVALID", `${shown} is not valid JSON: ${(e as Error).message}`, {
      subject: shown,
      cause: e,
      hints: ["The file may be truncated or not a TF.js model file; re-export or re-download the model."],
    });
  }
  const dir = dirname(abs);
  if (Array.isArray(json)) {
    const groups = check(weightsManifestSchema, json, shown);
    validateGroups(groups, shown);
    return { format: "weights-manifest", dir, manifestPath: abs, modelJson: undefined, groups };
  }
  const modelJson = check(modelJsonSchema, json, shown);
  const format = detectFormat(modelJson, shown);
  const groups = modelJson.weightsManifest ?? [];
  if (modelJson.weightsManifest === undefined) {
    throw new ProvmarkError("MODEL_JSON_INVALID", `${shown} has no weightsManifest`, {
      subject: shown,
      hints: ["model.json must list its weight shards in `weightsManifest` (TF.js format)."],
    });
  }
  validateGroups(groups, shown);
  return { format, dir, manifestPath: abs, modelJson, groups };
}

function check<T extends z.ZodType>(schema: T, json: unknown, shown: string): z.infer<T> {
  const r = schema.safeParse(json);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
  throw new ProvmarkError("MODEL_JSON_INVALID", `${shown} is not a valid TF.js model file: ${problems.join("; ")}`, {
    subject: shown,
    hints: ["Expected model.json (LayersModel or GraphModel) or a *weights_manifest.json array."],
  });
}

function detectFormat(m: ModelJson, shown: string): ModelFormat {
  if (m.format === "layers-model" || m.format === "graph-model") return m.format;
  const topo = m.modelTopology;
  if (topo !== undefined && "node" in topo) return "graph-model";
  if (topo !== undefined && ("class_name" in topo || "model_config" in topo)) return "layers-model";
  throw new ProvmarkError("MODEL_FORMAT_UNSUPPORTED", `${shown}: cannot tell the model format`, {
    subject: shown,
    hints: ['Expected `format: "layers-model" | "graph-model"` or a recognisable modelTopology.'],
  });
}

function validateGroups(groups: readonly WeightsGroup[], shown: string): void {
  const seen = new Set<string>();
  const seenPaths = new Set<string>();
  for (const g of groups) {
    for (const p of g.paths) {
      if (seenPaths.has(normalize(p))) {
        throw new ProvmarkError("MODEL_JSON_INVALID", `${shown}: shard ${p} is listed twice`, { subject: shown });
      }
      seenPaths.add(normalize(p));
      const n = normalize(p);
      if (isAbsolute(p) || n === ".." || n.startsWith(`..${sep}`) || p.includes("://")) {
        throw new ProvmarkError("MODEL_JSON_INVALID", `${shown}: shard path ${p} points outside the model directory`, {
          subject: shown,
          hints: ["Shard paths must be relative to the manifest's directory."],
        });
      }
    }
    for (const w of g.weights) {
      if (seen.has(w.name)) {
        throw new ProvmarkError("MODEL_WEIGHT_DUPLICATE", `${shown}: weight ${w.name} is listed twice`, {
          subject: shown,
        });
      }
      seen.add(w.name);
      const q = w.quantization?.dtype;
      const dtypeOk = (WEIGHT_DTYPES as readonly string[]).includes(w.dtype);
      const quantOk = q === undefined || (QUANTIZED_DTYPES as readonly string[]).includes(q);
      if (!dtypeOk || !quantOk || storedBytesPerElement(w) === undefined) {
        const what = dtypeOk ? `quantization dtype ${q}` : `dtype ${w.dtype}`;
        throw new ProvmarkError("MODEL_DTYPE_UNKNOWN", `${shown}: weight ${w.name} has unsupported ${what}`, {
          subject: shown,
          hints: [`Supported dtypes: ${WEIGHT_DTYPES.join(", ")}; quantization: ${QUANTIZED_DTYPES.join(", ")}.`],
        });
      }
      if (q === "uint8" || q === "uint16") {
        const { scale, min } = w.quantization ?? {};
        if (!Number.isFinite(scale) || !Number.isFinite(min)) {
          throw new ProvmarkError(
            "MODEL_JSON_INVALID",
            `${shown}: weight ${w.name} is ${q}-quantized without finite scale and min`,
            { subject: shown },
          );
        }
      }
    }
  }
}
