import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, normalize, sep } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs";
import { fromFsError, ProvmarkError } from "../errors.js";
import { writeDirAtomic } from "./atomic-write.js";
import { displayPath } from "./display-path.js";
import { locateModel } from "./locate.js";
import type { WeightSpec, WeightsGroup } from "./manifest-schema.js";
import { layoutShards } from "./shards.js";

export interface SaveLikeSourceOptions {
  overwrite?: boolean;
  /**
   * Files written in the same atomic step, computed from the weights as written (specs in manifest
   * order, their bytes concatenated), e.g. a certificate of them. They replace copied files of the
   * same name.
   */
  extraFiles?: (weights: { specs: WeightSpec[]; data: Uint8Array }) => Record<string, string | Uint8Array>;
}

export interface SaveLikeSourceResult {
  out: string;
  /** Files copied from the source directory unchanged (metadata.json, labels, README, ...). */
  copied: string[];
  /** Sub-directories of the source that were not copied (a TF.js model directory is flat). */
  skipped: string[];
  /**
   * `source`: the source's shard files with their names and sizes; `resized`: quantized source weights
   * were written as float32 (re-quantizing would blur small changes, such as a watermark), so the same
   * shard files grew.
   */
  layout: "source" | "resized";
  specs: WeightSpec[];
}

/**
 * Saves `model` in the file layout of the model it was loaded from: model.json keeps the source's
 * topology and every other field verbatim (nested models stay nested, nameless ones nameless), the
 * weights manifest keeps its groups, order and shard file names, and the source directory's other
 * files are copied. Written atomically; the result loads with plain tf.loadLayersModel.
 * @throws ProvmarkError MODEL_WEIGHTS_MISMATCH when the model's weights are not the source's,
 *   MODEL_WEIGHTS_NONFINITE, MODEL_FORMAT_UNSUPPORTED (not a LayersModel), OUTPUT_EXISTS
 * @example await saveLikeSource(marked, "tm/image-model", "tm/image-model-marked")
 */
export async function saveLikeSource(
  model: tfTypes.LayersModel,
  source: string,
  out: string,
  options: SaveLikeSourceOptions = {},
): Promise<SaveLikeSourceResult> {
  const loc = await locateModel(source);
  if (loc.format !== "layers-model") {
    throw new ProvmarkError("MODEL_FORMAT_UNSUPPORTED", `${source} is a ${loc.format}, not a LayersModel`, {
      subject: source,
      hints: ["Only LayersModels can be fine-tuned, so only they are saved in their source's layout."],
    });
  }
  const text = await readFile(loc.manifestPath, "utf8").catch((e: unknown) => {
    throw fromFsError(e, displayPath(loc.manifestPath));
  });
  const raw = JSON.parse(text) as Record<string, unknown>;
  const layouts = await layoutShards(loc);
  const values = weightValues(model, loc.groups, source);
  let resized = false;
  const groups: { group: WeightsGroup; shards: Uint8Array[] }[] = loc.groups.map((g, i) => {
    const weights = g.weights.map((spec) => {
      if (spec.quantization === undefined) return spec;
      resized = true;
      const { quantization: _, ...plain } = spec;
      return { ...plain, dtype: "float32" };
    });
    const bytes = concat(weights.map((spec) => encode(spec, values.get(spec.name) as tfTypes.Tensor, source)));
    const sizes = layouts[i]?.shards.map((s) => s.size) ?? [];
    return { group: { ...g, weights }, shards: split(bytes, g.paths.length, sizes) };
  });
  const specs = groups.flatMap((g) => g.group.weights);
  const data = concat(groups.flatMap((g) => g.shards));
  const indent = /^\{\r?\n( +|\t+)"/.exec(text)?.[1];
  const modelJson = { ...raw, weightsManifest: groups.map((g) => g.group) };
  const shardPaths = new Set(loc.groups.flatMap((g) => g.paths.map((p) => normalize(p))));
  const manifestName = basename(loc.manifestPath);
  const { copied, skipped } = await otherFiles(loc.dir, manifestName, shardPaths);
  const extras = options.extraFiles?.({ specs, data }) ?? {};
  for (const name of Object.keys(extras)) {
    if (name === manifestName || shardPaths.has(normalize(name)) || name.includes(sep) || name.includes("/")) {
      throw new ProvmarkError("INTERNAL", `extra file ${name} would replace a model file or leave the directory`);
    }
  }
  await writeDirAtomic(
    out,
    async (tmp) => {
      for (const { group, shards } of groups) {
        for (const [i, p] of group.paths.entries()) {
          await mkdir(dirname(join(tmp, p)), { recursive: true });
          await writeFile(join(tmp, p), shards[i] as Uint8Array);
        }
      }
      await writeFile(join(tmp, manifestName), `${JSON.stringify(modelJson, null, indent)}\n`);
      for (const name of copied) {
        if (!(name in extras)) await writeFile(join(tmp, name), await readFile(join(loc.dir, name)));
      }
      for (const [name, content] of Object.entries(extras)) await writeFile(join(tmp, name), content);
    },
    { overwrite: options.overwrite ?? false },
  );
  return { out, copied, skipped, layout: resized ? "resized" : "source", specs };
}

/** Each manifest weight's tensor in the model, matched by name the way TF.js's loader matches them. */
function weightValues(model: tfTypes.LayersModel, groups: readonly WeightsGroup[], source: string) {
  const byName = new Map(model.weights.map((w) => [w.originalName, w]));
  const used = new Set<tfTypes.LayerVariable>();
  const values = new Map<string, tfTypes.Tensor>();
  const mismatch = (what: string) =>
    new ProvmarkError("MODEL_WEIGHTS_MISMATCH", `the model cannot be saved in the layout of ${source}: ${what}`, {
      subject: source,
      hints: ["Save a model beside the source it was loaded from (its architecture must be unchanged)."],
    });
  for (const spec of groups.flatMap((g) => g.weights)) {
    // TF 2.2+ exports may name a weight layer/cell/weight; TF.js drops the cell part when matching.
    const tokens = spec.name.split("/");
    const w = byName.get(spec.name) ?? byName.get([...tokens.slice(0, -2), tokens.at(-1)].join("/"));
    if (w === undefined) throw mismatch(`the model has no weight ${spec.name}`);
    if (w.shape.join(",") !== spec.shape.join(",")) {
      throw mismatch(
        `weight ${spec.name} is [${w.shape.join(",")}] in the model, [${spec.shape.join(",")}] in the source`,
      );
    }
    used.add(w);
    values.set(spec.name, w.read());
  }
  const extra = model.weights.filter((w) => !used.has(w)).map((w) => w.originalName);
  if (extra.length > 0) throw mismatch(`the source has no weight ${extra.join(", ")}`);
  return values;
}

function encode(spec: WeightSpec, t: tfTypes.Tensor, source: string): Uint8Array {
  const v = t.dataSync();
  if (spec.dtype === "float32") {
    const f = Float32Array.from(v as Float32Array);
    const bad = f.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) {
      throw new ProvmarkError("MODEL_WEIGHTS_NONFINITE", `weight ${spec.name} holds ${f[bad]} at index ${bad}`, {
        subject: spec.name,
        hints: ["Nothing was written; the model diverged or was altered before saving."],
      });
    }
    return new Uint8Array(f.buffer);
  }
  if (spec.dtype === "int32") return new Uint8Array(Int32Array.from(v as Int32Array).buffer);
  if (spec.dtype === "bool") return Uint8Array.from(v as Uint8Array);
  throw new ProvmarkError("MODEL_DTYPE_UNKNOWN", `weight ${spec.name} of ${source} has dtype ${spec.dtype}`, {
    subject: source,
    hints: ["Only float32, int32 and bool weights are written back."],
  });
}

/** The group's bytes over its shard files: the source's sizes when they still add up, else evenly. */
function split(bytes: Uint8Array, count: number, sizes: readonly number[]): Uint8Array[] {
  const same = sizes.length === count && sizes.reduce((a, b) => a + b, 0) === bytes.length;
  const per = Math.ceil(bytes.length / Math.max(1, count));
  const out: Uint8Array[] = [];
  let off = 0;
  for (let i = 0; i < count; i++) {
    const n = same ? (sizes[i] as number) : Math.min(per, bytes.length - off);
    out.push(bytes.subarray(off, off + n));
    off += n;
  }
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

async function otherFiles(dir: string, manifest: string, shards: ReadonlySet<string>) {
  const entries = await readdir(dir, { withFileTypes: true }).catch((e: unknown) => {
    throw fromFsError(e, displayPath(dir));
  });
  const copied: string[] = [];
  const skipped: string[] = [];
  const shardDirs = new Set([...shards].map((p) => p.split(sep)[0]));
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.name === manifest || shards.has(e.name)) continue;
    const st = await stat(join(dir, e.name)).catch((err: unknown) => {
      throw fromFsError(err, displayPath(join(dir, e.name)));
    });
    if (st.isFile()) copied.push(e.name);
    else if (st.isDirectory() && !shardDirs.has(e.name)) skipped.push(e.name);
  }
  return { copied, skipped };
}
