import { stat } from "node:fs/promises";
import { isProvmarkError, type ProvmarkError } from "../errors.js";
import { type BackendChoice, backendChoice, loadTf } from "./backend.js";
import { type CarrierChoice, chooseCarrierLayer } from "./choose-carrier.js";
import { displayPath } from "./display-path.js";
import { disposeModel } from "./dispose-model.js";
import { loadLayersModel } from "./fs-io-handler.js";
import { describeModelIO, type InferredIO, type ModelIOOverrides } from "./infer-io.js";
import { locateModel, type ModelFormat } from "./locate.js";
import { elementCount } from "./manifest-schema.js";
import { readModelMetadata } from "./model-metadata.js";
import { floatKind, NonFiniteScanner, nonFiniteError } from "./nonfinite.js";
import { forEachChunk, type GroupLayout, layoutShards, WeightRouter } from "./shards.js";
import { type TopologyLayer, topologyLayers } from "./topology-layers.js";

export interface WeightInfo {
  name: string;
  shape: number[];
  dtype: string;
  /** Storage dtype when quantized (uint8, uint16, float16). */
  quantization: string | null;
  params: number;
  bytes: number;
}

export type LayerInfo = TopologyLayer;

/** A part of the summary that could not be worked out, and why (the error that would stop keygen). */
export interface Unavailable {
  error: ReturnType<ProvmarkError["toJSON"]>;
}

export interface InspectResult {
  format: ModelFormat;
  manifest: string;
  generatedBy: string | null;
  convertedBy: string | null;
  /** LayersModel layers at every depth in topology order, by full path (empty for graph models and bare manifests). */
  layers: LayerInfo[];
  /** GraphModel op histogram (empty otherwise). */
  ops: Record<string, number>;
  weights: WeightInfo[];
  paramCount: number;
  /** Weights per storage dtype, e.g. { float32: 4, uint8: 2 }. */
  quantization: Record<string, number>;
  shardCount: number;
  weightBytes: number;
  /** Manifest plus shards on disk. */
  totalBytes: number;
  /** LayersModels, when asked for: the inferred input, classes and class names, with reasons. */
  io?: InferredIO | Unavailable;
  /** LayersModels, when asked for: the layer keygen would choose to carry the weight mark. */
  carrier?: CarrierChoice | Unavailable;
}

export interface InspectOptions {
  /** Also load the model with TensorFlow.js to infer its ModelIO (with these overrides) and carrier. */
  io?: ModelIOOverrides;
  backend?: BackendChoice;
}

/**
 * Reads a model's manifest and streams its shards once to check sizes and finiteness; with `io`, also
 * loads a LayersModel to infer its inputs and classes and the weight mark's carrier.
 */
export async function inspectModel(path: string, options: InspectOptions = {}): Promise<InspectResult> {
  const loc = await locateModel(path);
  const layouts = await layoutShards(loc);
  await assertFiniteStreaming(layouts, path);
  const weights: WeightInfo[] = layouts.flatMap((l) =>
    l.weights.map((w) => ({
      name: w.spec.name,
      shape: w.spec.shape,
      dtype: w.spec.dtype,
      quantization: w.spec.quantization?.dtype ?? null,
      params: elementCount(w.spec.shape),
      bytes: w.byteLength,
    })),
  );
  const quantization: Record<string, number> = {};
  for (const w of weights) {
    const k = w.quantization ?? w.dtype;
    quantization[k] = (quantization[k] ?? 0) + 1;
  }
  const m = loc.modelJson;
  const weightBytes = layouts.reduce((a, l) => a + l.byteLength, 0);
  const manifestBytes = (await stat(loc.manifestPath)).size;
  const result: InspectResult = {
    format: loc.format,
    manifest: displayPath(loc.manifestPath),
    generatedBy: m?.generatedBy ?? null,
    convertedBy: m?.convertedBy ?? null,
    layers: loc.format === "layers-model" ? topologyLayers(m?.modelTopology, weights) : [],
    ops: loc.format === "graph-model" ? graphOps(m?.modelTopology) : {},
    weights,
    paramCount: weights.reduce((a, w) => a + w.params, 0),
    quantization,
    shardCount: layouts.reduce((a, l) => a + l.shards.length, 0),
    weightBytes,
    totalBytes: manifestBytes + weightBytes,
  };
  if (options.io !== undefined && loc.format === "layers-model") {
    Object.assign(result, await describeLoaded(path, loc.dir, options.io, options.backend));
  }
  return result;
}

async function describeLoaded(
  path: string,
  dir: string,
  overrides: ModelIOOverrides,
  backend: BackendChoice | undefined,
): Promise<Pick<InspectResult, "io" | "carrier">> {
  try {
    const metadata = await readModelMetadata(dir);
    const { tf } = await loadTf(backend ?? backendChoice());
    const model = await loadLayersModel(tf, path);
    try {
      return {
        io: attempt(() => describeModelIO(model, { metadata, overrides, modelPath: path })),
        carrier: attempt(() => chooseCarrierLayer(model, { modelPath: path })),
      };
    } finally {
      disposeModel(model);
    }
  } catch (e) {
    const u = unavailable(e);
    return { io: u, carrier: u };
  }
}

/**
 * A coded failure about the model becomes part of the summary; one about a flag the user gave
 * (`--preprocess`, `--class-names`) is bad input and propagates, as does anything uncoded (a bug).
 */
function unavailable(e: unknown): Unavailable {
  if (isProvmarkError(e) && !e.subject?.startsWith("--")) return { error: e.toJSON() };
  throw e;
}

function attempt<T>(f: () => T): T | Unavailable {
  try {
    return f();
  } catch (e) {
    return unavailable(e);
  }
}

async function assertFiniteStreaming(layouts: readonly GroupLayout[], shown: string): Promise<void> {
  for (const layout of layouts) {
    const router = new WeightRouter<NonFiniteScanner | undefined>(layout, {
      open: (slice) => {
        const kind = floatKind(slice.spec);
        return kind === undefined ? undefined : new NonFiniteScanner(kind);
      },
      write: (scanner, bytes) => scanner?.push(bytes),
      close: (scanner, slice) => {
        if (scanner?.firstBad === undefined) return;
        throw nonFiniteError(slice.spec.name, shown, scanner.firstBad);
      },
    });
    for (const s of layout.shards) await forEachChunk(s.abs, (c) => router.push(c));
  }
}

function graphOps(topology: Record<string, unknown> | undefined): Record<string, number> {
  const ops: Record<string, number> = {};
  const nodes = (topology?.node ?? []) as { op?: string }[];
  for (const n of nodes) if (n.op) ops[n.op] = (ops[n.op] ?? 0) + 1;
  return ops;
}
