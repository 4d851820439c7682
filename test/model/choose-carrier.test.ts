import type * as tfTypes from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { buildModel } from "../../src/model/archs.js";
import { type LoadedTf, loadTf } from "../../src/model/backend.js";
import { CARRIER_MARGIN, chooseCarrierLayer } from "../../src/model/choose-carrier.js";
import { disposeModel } from "../../src/model/dispose-model.js";
import { loadLayersModel } from "../../src/model/fs-io-handler.js";
import { kernelLayers, resolveLayer } from "../../src/model/layers.js";
import { buildNestedModel, TM_IMAGE_MODEL, TM_TINY_MODEL } from "../helpers/nested-model.js";

let L: LoadedTf;
let tm: tfTypes.LayersModel;
let tiny: tfTypes.LayersModel;
beforeAll(async () => {
  L = await loadTf("wasm");
  tm = await loadLayersModel(L.tf, TM_IMAGE_MODEL);
  tiny = await loadLayersModel(L.tf, TM_TINY_MODEL);
});

describe("choosing the weight mark's carrier layer", () => {
  it("picks the Teachable Machine head's 100-unit Dense, never the output layer", () => {
    const c = chooseCarrierLayer(tm, { modelPath: "tm" });
    expect(c).toMatchObject({ layer: "sequential_3/dense_Dense1", kernelShape: [1280, 100], carrierLength: 1280 });
    expect(c.reasons[0]).toContain("1280 values, 5× the 256 bits");
    expect(c.reasons.join(" ")).toContain("Never the output layer sequential_3/dense_Dense2");
  });

  it("goes into the backbone when the head is too small, and says what that costs", () => {
    // The tiny export's Dense reads 256 features: 1× the bits. The last carrier of 4× is a depthwise conv.
    const kernels = kernelLayers(tiny);
    const expected = kernels
      .slice(0, -1)
      .filter((l) => l.kernel.carrierLength >= CARRIER_MARGIN * 256)
      .at(-1);
    const c = chooseCarrierLayer(tiny, { modelPath: "tiny" });
    expect(c.layer).toBe(expected?.path);
    expect(c.layer.startsWith("sequential_1/model1/")).toBe(true);
    expect(c.kernelShape).toEqual([3, 3, 256, 1]);
    const text = c.reasons.join(" ");
    expect(text).toContain(
      "smaller carriers: sequential_1/model1/conv_pw_13_relu (256), sequential_3/dense_Dense1 (256)",
    );
    expect(text).toContain(
      "outside the model that holds the output layer (sequential_3), likely in a pretrained backbone",
    );
    expect(text).toContain("a key of at most 64 bits would fit sequential_3/dense_Dense1");
  });

  it("stays in the head for a key short enough", () => {
    expect(chooseCarrierLayer(tiny, { bits: 64 }).layer).toBe("sequential_3/dense_Dense1");
  });

  it("skips frozen kernels: fine-tuning would not move them", () => {
    const { tf } = L;
    const model = buildNestedModel(tf, 3);
    expect(chooseCarrierLayer(model, { bits: 4 }).layer).toBe("head/features");
    resolveLayer(model, "features", "nested").layer.trainable = false;
    const c = chooseCarrierLayer(model, { bits: 4 });
    expect(c.layer).toBe("backbone/dw"); // project's carrier (8 values) is under 4 × 4
    expect(c.reasons.join(" ")).toContain("Skipped 1 layer(s) with frozen kernels");
    disposeModel(model);
  });

  it("falls back to the largest carrier when none has the margin (the MNIST MLP's dense1)", () => {
    const { tf } = L;
    const model = buildModel(tf, "mlp", [28, 28, 1], 10, 1);
    const c = chooseCarrierLayer(model, { bits: 256 });
    expect(c).toMatchObject({ layer: "dense1", carrierLength: 784 });
    expect(c.reasons[0]).toContain("no hidden layer reaches 4× (1024), so this is the largest");
    model.dispose();
  });

  it("refuses a model whose only kernel is the output layer, or whose carriers are all too small", () => {
    const { tf } = L;
    const single = tf.sequential({ layers: [tf.layers.dense({ inputShape: [600], units: 3, name: "out" })] });
    expect(() => chooseCarrierLayer(single, { modelPath: "single" })).toThrow(
      expect.objectContaining({
        code: "LAYER_NOT_FOUND",
        message: expect.stringContaining("only in its output layer out"),
      }),
    );
    single.dispose();
    const small = buildModel(tf, "mlp-small", [8, 8, 1], 3, 1);
    expect(() => chooseCarrierLayer(small, { bits: 65, modelPath: "small" })).toThrow(
      expect.objectContaining({ code: "LAYER_TOO_SMALL", hints: ["Use a key with at most 64 bits."] }),
    );
    small.dispose();
  });
});
