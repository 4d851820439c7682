import { PATH_SEPARATOR } from "./layers.js";
import { CONTAINER_CLASSES, childLayers, nameNestedModels, rootLayer, storedName } from "./topology-names.js";

export interface TopologyLayer {
  /** Full path, the same as layers.ts gives the loaded model (`sequential_3/dense_Dense1`). */
  path: string;
  name: string;
  className: string;
  depth: number;
  container: boolean;
  /** Parameters of its own weights, or of every layer inside it for a container. */
  params: number;
  /** Its weights' names as stored (empty for containers). */
  weights: string[];
}

interface NamedWeight {
  name: string;
  params: number;
}

/**
 * The layers of a Keras-style topology from model.json alone (no TensorFlow.js), nested models
 * walked in file order with the names loading gives them, so `inspect` works on models TF.js
 * cannot build and shows the paths keys and flags take.
 */
export function topologyLayers(topology: unknown, weights: readonly NamedWeight[]): TopologyLayer[] {
  const out: TopologyLayer[] = [];
  const walk = (layers: readonly unknown[], prefix: string, depth: number): number => {
    let total = 0;
    for (const entry of layers) {
      const name = storedName(entry) ?? "?";
      const className = String((entry as { class_name?: unknown })?.class_name ?? "?");
      const path = prefix === "" ? name : `${prefix}${PATH_SEPARATOR}${name}`;
      const container = CONTAINER_CLASSES.has(className);
      const row: TopologyLayer = { path, name, className, depth, container, params: 0, weights: [] };
      out.push(row);
      if (container) {
        row.params = walk(childLayers((entry as { config?: unknown }).config), path, depth + 1);
      } else {
        // Exports name weights `layer/kernel`; Keras SavedModel conversions may prefix the models around it.
        const own = weights.filter((w) => w.name.startsWith(`${name}/`) || w.name.includes(`/${name}/`));
        row.weights = own.map((w) => w.name);
        row.params = own.reduce((a, w) => a + w.params, 0);
      }
      total += row.params;
    }
    return total;
  };
  const root = rootLayer(nameNestedModels(topology)) as { config?: unknown } | undefined;
  walk(childLayers(root?.config), "", 0);
  return out;
}
