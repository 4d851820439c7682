import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs";
import { ProvmarkError } from "../errors.js";
import { writeDirAtomic } from "./atomic-write.js";
import { displayPath } from "./display-path.js";
import { locateModel, type ModelLocation } from "./locate.js";
import type { WeightSpec } from "./manifest-schema.js";
import { floatKind, NonFiniteScanner, nonFiniteError } from "./nonfinite.js";
import { type GroupLayout, layoutShards, readGroupBytes } from "./shards.js";
import { nameNestedModels } from "./topology-names.js";

type TF = typeof tfTypes;
type ModelArtifacts = tfTypes.io.ModelArtifacts;

/** TF.js's own shard size: 4 MiB. */
export const SHARD_BYTES = 4 * 1024 * 1024;

export interface LoadedWeights {
  loc: ModelLocation;
  layouts: GroupLayout[];
  specs: WeightSpec[];
  /** The groups' bytes concatenated in manifest order, as TF.js expects `weightData`. */
  data: ArrayBuffer;
}

/** Reads and checks every weight byte of a model: shards present, sizes exact, values finite. */
export async function readWeightBytes(path: string): Promise<LoadedWeights> {
  const loc = await locateModel(path);
  const layouts = await layoutShards(loc);
  const total = layouts.reduce((a, l) => a + l.byteLength, 0);
  const data = new Uint8Array(total);
  let off = 0;
  for (const layout of layouts) {
    const bytes = await readGroupBytes(layout);
    for (const w of layout.weights) {
      const kind = floatKind(w.spec);
      if (kind === undefined) continue;
      const scanner = new NonFiniteScanner(kind);
      scanner.push(bytes.subarray(w.offset, w.offset + w.byteLength));
      if (scanner.firstBad !== undefined) {
        throw nonFiniteError(w.spec.name, displayPath(loc.manifestPath), scanner.firstBad);
      }
    }
    data.set(bytes, off);
    off += bytes.length;
  }
  return { loc, layouts, specs: layouts.flatMap((l) => l.weights.map((w) => w.spec)), data: data.buffer };
}

/**
 * A TF.js IOHandler that loads a LayersModel directory with plain fs (no tfjs-node needed). Nested
 * models the file leaves nameless are named stably (topology-names.ts), so layer paths survive reloads.
 */
export function fileLoadHandler(path: string): tfTypes.io.IOHandler {
  return {
    load: async (): Promise<ModelArtifacts> => {
      const w = await readWeightBytes(path);
      const m = w.loc.modelJson;
      if (w.loc.format !== "layers-model" || m?.modelTopology === undefined) {
        throw new ProvmarkError("MODEL_FORMAT_UNSUPPORTED", `${path} is a ${w.loc.format}, not a LayersModel`, {
          subject: path,
          hints: [
            w.loc.format === "graph-model"
              ? "GraphModels cannot be fine-tuned in TF.js: provmark can hash and register them, and detect copies black-box (detect --protocol tfserving|kserve|json|raw against where they are served). Watermark the Keras/LayersModel source, then convert."
              : "Training and watermarking need a Keras-style LayersModel (model.json with format layers-model).",
          ],
        });
      }
      const artifacts: ModelArtifacts = {
        // Nameless nested models get names from the file, not from TF.js's process-wide counter.
        modelTopology: nameNestedModels(m.modelTopology as object),
        weightSpecs: w.specs as tfTypes.io.WeightsManifestEntry[],
        weightData: w.data,
        format: "layers-model",
      };
      if (m.generatedBy !== undefined) artifacts.generatedBy = m.generatedBy;
      if (typeof m.convertedBy === "string") artifacts.convertedBy = m.convertedBy;
      if (m.trainingConfig !== undefined) artifacts.trainingConfig = m.trainingConfig as tfTypes.io.TrainingConfig;
      if (m.userDefinedMetadata !== undefined)
        artifacts.userDefinedMetadata = m.userDefinedMetadata as Record<string, object>;
      return artifacts;
    },
  };
}

export interface SaveOptions {
  overwrite?: boolean;
  /** Files written beside model.json in the same atomic step (e.g. a certificate of these weights). */
  extraFiles?: (artifacts: ModelArtifacts, data: Uint8Array) => Record<string, string>;
}

/** A TF.js IOHandler that saves into a directory atomically (temp sibling, then rename). */
export function fileSaveHandler(tf: TF, out: string, options: SaveOptions = {}): tfTypes.io.IOHandler {
  return {
    save: async (artifacts: ModelArtifacts): Promise<tfTypes.io.SaveResult> => {
      const data = new Uint8Array(
        artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData),
      );
      const count = Math.max(1, Math.ceil(data.length / SHARD_BYTES));
      const paths = Array.from({ length: count }, (_, i) => `group1-shard${i + 1}of${count}.bin`);
      const modelJson = {
        format: "layers-model",
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        ...(artifacts.trainingConfig === undefined ? {} : { trainingConfig: artifacts.trainingConfig }),
        ...(artifacts.userDefinedMetadata === undefined ? {} : { userDefinedMetadata: artifacts.userDefinedMetadata }),
        weightsManifest: [{ paths, weights: artifacts.weightSpecs ?? [] }],
      };
      await writeDirAtomic(
        out,
        async (tmp) => {
          for (const [i, p] of paths.entries()) {
            await writeFile(join(tmp, p), data.subarray(i * SHARD_BYTES, (i + 1) * SHARD_BYTES));
          }
          await writeFile(join(tmp, "model.json"), `${JSON.stringify(modelJson, null, 1)}\n`);
          for (const [name, text] of Object.entries(options.extraFiles?.(artifacts, data) ?? {})) {
            await writeFile(join(tmp, name), text);
          }
        },
        { overwrite: options.overwrite ?? false },
      );
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

/** Loads a LayersModel directory, turning TF.js failures into coded errors that name the model. */
export async function loadLayersModel(tf: TF, path: string): Promise<tfTypes.LayersModel> {
  try {
    return await tf.loadLayersModel(fileLoadHandler(path));
  } catch (e) {
    if (e instanceof ProvmarkError) throw e;
    throw new ProvmarkError("MODEL_LOAD_FAILED", `TensorFlow.js could not build ${path}: ${(e as Error).message}`, {
      subject: path,
      cause: e,
      hints: ["model.json's topology may be malformed or use layers this TF.js version lacks."],
    });
  }
}

/** Decodes (and dequantizes) every weight of any TF.js model into named tensors; caller disposes. */
export async function readNamedWeights(tf: TF, path: string): Promise<tfTypes.NamedTensorMap> {
  const w = await readWeightBytes(path);
  return tf.io.decodeWeights(w.data, w.specs as tfTypes.io.WeightsManifestEntry[]);
}
