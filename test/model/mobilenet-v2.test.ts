import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadTf } from "../../src/model/backend.js";
import { buildMobileNetV2 } from "../../src/model/mobilenet-v2.js";

const FIXTURE = new URL("../fixtures/teachable-machine/image-model/model.json", import.meta.url);

describe("buildMobileNetV2", () => {
  it("has the Teachable Machine backbone's weights, name for name and shape for shape", async () => {
    const { tf } = await loadTf("cpu");
    const model = buildMobileNetV2(tf, [224, 224, 3], 2, 1);
    const mine = new Map(model.weights.map((w) => [w.originalName, w.shape.join()]));
    const manifest = JSON.parse(readFileSync(FIXTURE, "utf8")) as {
      weightsManifest: { weights: { name: string; shape: number[] }[] }[];
    };
    // The fixture's head (dense_Dense1, dense_Dense2) is Teachable Machine's own, not Keras's.
    const backbone = manifest.weightsManifest.flatMap((g) => g.weights).filter((w) => !w.name.startsWith("dense_"));
    expect(backbone).toHaveLength(260);
    for (const w of backbone) expect(mine.get(w.name), w.name).toBe(w.shape.join());
    // 410,208 backbone values (BatchNorm statistics included) + the 1280 x 2 + 2 head.
    expect(model.countParams()).toBe(410_208 + 2_562);
    model.dispose();
  });
});
