import { describe, expect, it } from "vitest";
import { nameNestedModels } from "../../src/model/topology-names.js";

const seq = (config: unknown) => ({ class_name: "Sequential", config });
const dense = (name: string) => ({ class_name: "Dense", config: { name, units: 1 } });

describe("naming nameless nested models", () => {
  it("numbers them in file order like a fresh TF.js process, rewriting bare lists to {name, layers}", () => {
    const topology = { ...seq([seq([dense("a")]), seq([dense("b")])]), keras_version: "2.2.4" };
    const named = nameNestedModels(topology);
    expect(named).toEqual({
      class_name: "Sequential",
      keras_version: "2.2.4",
      config: {
        name: "sequential_1",
        layers: [
          { class_name: "Sequential", config: { name: "sequential_2", layers: [dense("a")] } },
          { class_name: "Sequential", config: { name: "sequential_3", layers: [dense("b")] } },
        ],
      },
    });
    expect(topology.config).toHaveLength(2); // the input is left as it was
  });

  it("skips names the file uses anywhere and keeps given names, inside model_config too", () => {
    const topology = {
      model_config: seq([seq([dense("sequential_2")]), seq({ name: "head", layers: [dense("c")] }), seq([])]),
    };
    const named = nameNestedModels(topology) as {
      model_config: { config: { name: string; layers: { config: { name: string } }[] } };
    };
    expect(named.model_config.config.name).toBe("sequential_1");
    expect(named.model_config.config.layers.map((l) => l.config.name)).toEqual([
      "sequential_3",
      "head",
      "sequential_4",
    ]);
  });
});
