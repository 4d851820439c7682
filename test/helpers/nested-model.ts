import type * as tfTypes from "@tensorflow/tfjs";
import type { TF } from "../../src/model/backend.js";

/** The vendored Teachable Machine exports (Apache-2.0, test/fixtures/teachable-machine/README.md). */
export const TM_IMAGE_MODEL = new URL("../fixtures/teachable-machine/image-model", import.meta.url).pathname;
export const TM_TINY_MODEL = new URL("../fixtures/teachable-machine/tiny-image-model", import.meta.url).pathname;
export const TM_TRAINING_IMAGES = new URL("../fixtures/teachable-machine/training-images", import.meta.url).pathname;

/**
 * A small MobileNetV2-like classifier with the layer kinds of real exports, nested the way Teachable
 * Machine nests them: Sequential[functional "backbone" (ZeroPadding2D, Conv2D, BatchNormalization,
 * ReLU6, DepthwiseConv2D, a residual Add, GlobalAveragePooling2D), Sequential "head" (Dense, Dense
 * softmax)]. Seeded, so two builds with one seed have the same weights.
 */
export function buildNestedModel(tf: TF, seed: number, classes = 3): tfTypes.Sequential {
  let n = 0;
  const init = () => tf.initializers.glorotUniform({ seed: seed * 101 + n++ });
  const input = tf.input({ shape: [12, 12, 3], name: "image" });
  const pad = tf.layers.zeroPadding2d({ padding: 1, name: "pad" }).apply(input);
  const conv = tf.layers.conv2d({ filters: 8, kernelSize: 3, kernelInitializer: init(), name: "conv" }).apply(pad);
  const bn = tf.layers.batchNormalization({ name: "conv_bn" }).apply(conv);
  const relu = tf.layers.reLU({ maxValue: 6, name: "conv_relu" }).apply(bn);
  const dw = tf.layers
    .depthwiseConv2d({ kernelSize: 3, padding: "same", depthwiseInitializer: init(), name: "dw" })
    .apply(relu);
  const dwBn = tf.layers.batchNormalization({ name: "dw_bn" }).apply(dw);
  const dwRelu = tf.layers.reLU({ maxValue: 6, name: "dw_relu" }).apply(dwBn);
  const add = tf.layers.add({ name: "residual" }).apply([relu, dwRelu] as tfTypes.SymbolicTensor[]);
  const project = tf.layers
    .conv2d({ filters: 16, kernelSize: 1, kernelInitializer: init(), name: "project" })
    .apply(add);
  const gap = tf.layers.globalAveragePooling2d({ name: "gap" }).apply(project) as tfTypes.SymbolicTensor;
  const backbone = tf.model({ inputs: input, outputs: gap, name: "backbone" });
  const head = tf.sequential({
    name: "head",
    layers: [
      tf.layers.dense({ inputShape: [16], units: 32, activation: "relu", kernelInitializer: init(), name: "features" }),
      tf.layers.dense({ units: classes, activation: "softmax", kernelInitializer: init(), name: "logits" }),
    ],
  });
  return tf.sequential({ name: "classifier", layers: [backbone, head] });
}
