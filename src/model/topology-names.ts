/**
 * Stable names for nested models whose model.json gives them none. Teachable Machine writes its
 * inner Sequentials as bare layer lists; TF.js then names them from a process-wide counter
 * (`sequential_2` in a fresh process, `sequential_5` after another model was loaded), so a layer path
 * recorded in a key would not resolve in the next process. Naming them from the file instead gives
 * every load the same names. Only containers are named: a nameless layer with weights cannot load at
 * all, because TF.js matches stored weights to layers by layer name.
 */

/** Keras class names of layers that hold other layers. */
export const CONTAINER_CLASSES: ReadonlySet<string> = new Set(["Sequential", "Model", "Functional"]);

interface LayerJson {
  class_name?: unknown;
  name?: unknown;
  config?: unknown;
}

type Config = Record<string, unknown>;

const isObject = (v: unknown): v is Config => typeof v === "object" && v !== null && !Array.isArray(v);

/** A container's child layer list, for both the `{layers: [...]}` form and Keras 1's bare list. */
export function childLayers(config: unknown): unknown[] {
  if (Array.isArray(config)) return config;
  return isObject(config) && Array.isArray(config.layers) ? config.layers : [];
}

/** The model's own layer entry inside a modelTopology (`model_config` wraps it in some exports). */
export function rootLayer(topology: unknown): unknown {
  return isObject(topology) && isObject(topology.model_config) ? topology.model_config : topology;
}

/** A layer's name as written in the file: the config's, else the entry's (functional graphs), else none. */
export function storedName(layer: unknown): string | undefined {
  if (!isObject(layer)) return undefined;
  const l = layer as LayerJson;
  const fromConfig = isObject(l.config) ? l.config.name : undefined;
  if (typeof fromConfig === "string" && fromConfig !== "") return fromConfig;
  return typeof l.name === "string" && l.name !== "" ? l.name : undefined;
}

/**
 * A copy of `topology` in which every nameless container (the root included) is named
 * `<class>_<n>` like TF.js would in a fresh process: numbered in file order from 1 per class,
 * skipping names the file uses anywhere. Layer lists are rewritten to the `{name, layers}` form,
 * which TF.js reads as it reads bare lists. Named containers and all other layers are unchanged.
 * @example nameNestedModels({ class_name: "Sequential", config: [{ class_name: "Sequential", config: [] }] })
 *   // → root sequential_1 holding sequential_2
 */
export function nameNestedModels<T>(topology: T): T {
  const copy = structuredClone(topology);
  const used = new Set<string>();
  const collect = (layer: unknown) => {
    const name = storedName(layer);
    if (name !== undefined) used.add(name);
    if (isObject(layer)) for (const child of childLayers(layer.config)) collect(child);
  };
  const root = rootLayer(copy);
  collect(root);
  const counters = new Map<string, number>();
  const fresh = (className: string) => {
    const prefix = className.toLowerCase();
    let n = counters.get(prefix) ?? 0;
    let name: string;
    do name = `${prefix}_${++n}`;
    while (used.has(name));
    counters.set(prefix, n);
    used.add(name);
    return name;
  };
  const visit = (layer: unknown) => {
    if (!isObject(layer)) return;
    const className = layer.class_name;
    if (typeof className === "string" && CONTAINER_CLASSES.has(className)) {
      if (storedName(layer) === undefined) {
        const name = fresh(className);
        layer.config = Array.isArray(layer.config)
          ? { name, layers: layer.config }
          : { ...(isObject(layer.config) ? layer.config : {}), name };
      }
    }
    for (const child of childLayers(layer.config)) visit(child);
  };
  visit(root);
  return copy;
}
