import { stat } from "node:fs/promises";
import { displayPath } from "./display-path.js";
import { locateModel, type ModelFormat } from "./locate.js";
import { elementCount } from "./manifest-schema.js";
import { floatKind, NonFiniteScanner, nonFiniteError } from "./nonfinite.js";
import { forEachChunk, type GroupLayout, layoutShards, WeightRouter } from "./shards.js";

export interface WeightInfo {
  name: string;
  shape: number[];
  dtype: string;
  /** Storage dtype when quantized (uint8, uint16, float16). */
  quantization: string | null;
  params: number;
  bytes: number;
}

export interface LayerInfo {
  name: string;
  className: string;
  params: number;
  weights: string[];
}

export interface InspectResult {
  format: ModelFormat;
  manifest: string;
  generatedBy: string | null;
  convertedBy: string | null;
  /** LayersModel layers in topology order (empty for graph models and bare manifests). */
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
}

/** Reads a model's manifest and streams its shards once to check sizes and finiteness. */
export async function inspectModel(path: string): Promise<InspectResult> {
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
  return {
    format: loc.format,
    manifest: displayPath(loc.manifestPath),
    generatedBy: m?.generatedBy ?? null,
    convertedBy: m?.convertedBy ?? null,
    layers: loc.format === "layers-model" ? kerasLayers(m?.modelTopology, weights) : [],
    ops: loc.format === "graph-model" ? graphOps(m?.modelTopology) : {},
    weights,
    paramCount: weights.reduce((a, w) => a + w.params, 0),
    quantization,
    shardCount: layouts.reduce((a, l) => a + l.shards.length, 0),
    weightBytes,
    totalBytes: manifestBytes + weightBytes,
  };
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

interface KerasLayerJson {
  class_name?: string;
  config?: { name?: string };
}

function kerasLayers(topology: Record<string, unknown> | undefined, weights: readonly WeightInfo[]): LayerInfo[] {
  const root = (topology?.model_config ?? topology) as { config?: unknown } | undefined;
  const cfg = root?.config;
  const list = (
    Array.isArray(cfg) ? cfg : ((cfg as { layers?: unknown } | undefined)?.layers ?? [])
  ) as KerasLayerJson[];
  return list.map((l) => {
    const name = l.config?.name ?? "?";
    const own = weights.filter((w) => w.name.startsWith(`${name}/`));
    return {
      name,
      className: l.class_name ?? "?",
      params: own.reduce((a, w) => a + w.params, 0),
      weights: own.map((w) => w.name),
    };
  });
}

function graphOps(topology: Record<string, unknown> | undefined): Record<string, number> {
  const ops: Record<string, number> = {};
  const nodes = (topology?.node ?? []) as { op?: string }[];
  for (const n of nodes) if (n.op) ops[n.op] = (ops[n.op] ?? 0) + 1;
  return ops;
}
