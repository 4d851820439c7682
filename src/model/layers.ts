import type * as tfTypes from "@tensorflow/tfjs";
import { ProvmarkError } from "../errors.js";
import type { TF } from "./backend.js";

/**
 * Layers of a LayersModel at any depth (Sequential in Sequential, functional models inside either),
 * each named by its full path: the names of the models that hold it, outermost first, then its own,
 * joined by "/" (the separator TF.js weight names already use), e.g. `sequential_3/dense_Dense1`.
 * The root model's own name is left out. Paths are stable across save and load because nameless
 * nested models are named from the file when loaded (topology-names.ts).
 */
export const PATH_SEPARATOR = "/";

/** Weight suffixes that hold a layer's kernel, in order of preference. */
const KERNEL_SUFFIXES = ["kernel", "depthwise_kernel"] as const;

/** Whether a weight is a kernel: Dense and Conv `kernel`, DepthwiseConv2D `depthwise_kernel`. */
export function isKernelWeight(w: tfTypes.LayerVariable): boolean {
  return KERNEL_SUFFIXES.some((s) => w.originalName.endsWith(`/${s}`));
}

/** Axis names of a kernel by layer class; the carrier averages over the last one. */
const KERNEL_AXES: Record<string, readonly string[]> = {
  Dense: ["in", "out"],
  Conv1D: ["k", "in", "out"],
  Conv2D: ["h", "w", "in", "out"],
  Conv3D: ["d", "h", "w", "in", "out"],
  Conv2DTranspose: ["h", "w", "out", "in"],
  // Depthwise kernels are [h, w, in, multiplier]: their last axis is the multiplier (usually 1), so the
  // carrier is every weight of the kernel, h·w·in values.
  DepthwiseConv2D: ["h", "w", "in", "multiplier"],
  SeparableConv2D: ["h", "w", "in", "multiplier"],
};

export interface KernelInfo {
  /** The layer's kernel weight; `variable.read()` is the tf.Variable the layer computes with. */
  variable: tfTypes.LayerVariable;
  /** The weight's name as stored in model.json, e.g. `dense_Dense1/kernel`. */
  weightName: string;
  shape: number[];
  /** What each axis of `shape` is, when the layer class is known, e.g. ["h", "w", "in", "multiplier"]. */
  axes: readonly string[] | undefined;
  /** Values the weight mark reads: the kernel's size over its last axis (weight-mark.ts carrierOf). */
  carrierLength: number;
}

export interface ModelLayer {
  /** Full path, e.g. `sequential_2/mobilenetv2_0.35_224/Conv1`. */
  path: string;
  /** The layer's own name (the last path segment). */
  name: string;
  className: string;
  /** 0 for the root model's own layers. */
  depth: number;
  /** Whether it holds layers (a nested Sequential or functional model). */
  container: boolean;
  /** Whether training the whole model updates its kernel (it and every model around it trainable). */
  trainable: boolean;
  kernel: KernelInfo | undefined;
  layer: tfTypes.layers.Layer;
}

export type KernelLayer = ModelLayer & { kernel: KernelInfo };

const childrenOf = (layer: tfTypes.layers.Layer): tfTypes.layers.Layer[] | undefined => {
  const layers = (layer as { layers?: unknown }).layers;
  return Array.isArray(layers) ? (layers as tfTypes.layers.Layer[]) : undefined;
};

/** Every layer below the root in topological order, each container just before the layers it holds. */
export function listLayers(model: tfTypes.LayersModel): ModelLayer[] {
  const trainable = new Set(model.trainableWeights);
  const out: ModelLayer[] = [];
  const walk = (layers: readonly tfTypes.layers.Layer[], prefix: string, depth: number, outer: boolean) => {
    for (const layer of layers) {
      const path = prefix === "" ? layer.name : `${prefix}${PATH_SEPARATOR}${layer.name}`;
      const children = childrenOf(layer);
      const kernel = children === undefined ? kernelOf(layer) : undefined;
      out.push({
        path,
        name: layer.name,
        className: layer.getClassName(),
        depth,
        container: children !== undefined,
        trainable: kernel === undefined ? outer && layer.trainable : trainable.has(kernel.variable),
        kernel,
        layer,
      });
      if (children !== undefined) walk(children, path, depth + 1, outer && layer.trainable);
    }
  };
  walk(model.layers, "", 0, model.trainable);
  return out;
}

function kernelOf(layer: tfTypes.layers.Layer): KernelInfo | undefined {
  for (const suffix of KERNEL_SUFFIXES) {
    const variable = layer.weights.find((w) => w.originalName.endsWith(`/${suffix}`));
    if (variable === undefined) continue;
    const shape = variable.shape.map((d) => d ?? 0);
    const last = shape.at(-1) ?? 1;
    const size = shape.reduce((a, b) => a * b, 1);
    return {
      variable,
      weightName: variable.originalName,
      shape,
      axes: KERNEL_AXES[layer.getClassName()],
      carrierLength: last === 0 ? 0 : size / last,
    };
  }
  return undefined;
}

/** The layers that have a kernel (the weight mark's possible carriers), in topological order. */
export function kernelLayers(model: tfTypes.LayersModel): KernelLayer[] {
  return listLayers(model).filter((l): l is KernelLayer => l.kernel !== undefined);
}

/**
 * Finds a layer by its full path, or by a unique trailing part of it: its short name
 * (`dense_Dense1`) or any tail of whole segments (`mobilenetv2_0.35_224/Conv1`). An exact full path
 * wins over tails.
 * @throws ProvmarkError LAYER_AMBIGUOUS (listing the matches) or LAYER_NOT_FOUND (listing the kernel layers)
 */
export function resolveLayer(model: tfTypes.LayersModel, query: string, modelPath: string): ModelLayer {
  const all = listLayers(model);
  const exact = all.filter((l) => l.path === query);
  const matches = exact.length > 0 ? exact : all.filter((l) => l.path.endsWith(`${PATH_SEPARATOR}${query}`));
  if (matches.length === 1) return matches[0] as ModelLayer;
  if (matches.length > 1) {
    throw new ProvmarkError(
      "LAYER_AMBIGUOUS",
      `${JSON.stringify(query)} names ${matches.length} layers of ${modelPath}: ${matches.map((l) => l.path).join(", ")}`,
      { subject: query, hints: ["Name the layer by its full path (one of those listed)."] },
    );
  }
  throw new ProvmarkError("LAYER_NOT_FOUND", `${modelPath} has no layer ${JSON.stringify(query)}`, {
    subject: query,
    hints: [kernelListing(all), `See every layer with \`provmark inspect ${modelPath}\`.`],
  });
}

/** Like resolveLayer, for a layer that must have a kernel. */
export function resolveKernelLayer(model: tfTypes.LayersModel, query: string, modelPath: string): KernelLayer {
  const layer = resolveLayer(model, query, modelPath);
  if (layer.kernel === undefined) {
    throw new ProvmarkError(
      "LAYER_NOT_FOUND",
      `layer ${layer.path} of ${modelPath} is a ${layer.className}, which has no kernel`,
      { subject: query, hints: [kernelListing(listLayers(model))] },
    );
  }
  return layer as KernelLayer;
}

function kernelListing(all: readonly ModelLayer[]): string {
  const kernels = all.filter((l) => l.kernel !== undefined);
  const listed = kernels.map((l) => `${l.path} [${l.kernel?.shape.join(",")}]`).join(", ");
  return `Layers with kernels (${kernels.length}): ${listed || "(none)"}.`;
}

/**
 * The tf.Variable behind a layer's kernel: put it in an optimizer's var list and read it inside the
 * loss, and the gradient of a weight-mark regulariser reaches the weights the model computes with.
 */
export function kernelVariable(layer: KernelLayer): tfTypes.Variable {
  return layer.kernel.variable.read() as tfTypes.Variable;
}

/** A copy of a layer's kernel values (row-major, in the kernel's own layout). */
export function readKernel(layer: KernelLayer): Float32Array {
  return Float32Array.from(kernelVariable(layer).dataSync() as Float32Array);
}

/** Replaces a layer's kernel values in place; the model computes with them from the next call on. */
export function writeKernel(tf: TF, layer: KernelLayer, values: Float32Array): void {
  const { shape } = layer.kernel;
  const size = shape.reduce((a, b) => a * b, 1);
  if (values.length !== size) {
    throw new ProvmarkError(
      "INTERNAL",
      `a kernel of ${values.length} values cannot replace ${layer.path}'s kernel [${shape.join(",")}] (${size} values)`,
      { subject: layer.path },
    );
  }
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new ProvmarkError("MODEL_WEIGHTS_NONFINITE", `new kernel for ${layer.path} has ${values[bad]} at ${bad}`, {
      subject: layer.path,
    });
  }
  const t = tf.tensor(values, shape, "float32");
  layer.kernel.variable.write(t);
  t.dispose();
}
