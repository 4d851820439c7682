import type * as tfTypes from "@tensorflow/tfjs";

type TF = typeof tfTypes;
type SymbolicTensor = tfTypes.SymbolicTensor;

/** Keras's `_make_divisible`: channel counts rounded to multiples of 8, never below 90% of the target. */
function makeDivisible(v: number, divisor = 8): number {
  const rounded = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  return rounded < 0.9 * v ? rounded + divisor : rounded;
}

/** (expansion, channels, repeats, first stride) of MobileNetV2's inverted-residual stages. */
const STAGES: readonly [number, number, number, number][] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/**
 * MobileNetV2 laid out as keras.applications.MobileNetV2(alpha, include_top=False) is, layer for
 * layer and with its names (the backbone of Teachable Machine's image model, which ends at
 * "out_relu"), then global average pooling and a softmax dense head of `numClasses`. Keras pads
 * stride-2 convolutions explicitly (ZeroPadding2D, then 'valid') because TensorFlow's 'same' pads
 * the bottom/right only; the layout is kept so the weights and activations line up with Keras's.
 * Fresh weights: every kernel initialiser is seeded from `seed`.
 */
export function buildMobileNetV2(
  tf: TF,
  inputShape: readonly [number, number, number],
  numClasses: number,
  seed: number,
  alpha = 0.35,
): tfTypes.LayersModel {
  let n = 0;
  const init = () => tf.initializers.glorotUniform({ seed: seed * 101 + n++ });
  const bn = (name: string) => tf.layers.batchNormalization({ axis: -1, momentum: 0.999, epsilon: 1e-3, name });
  const relu6 = (name: string) => tf.layers.reLU({ maxValue: 6, name });
  const conv = (filters: number, kernelSize: number, strides: number, padding: "same" | "valid", name: string) =>
    tf.layers.conv2d({ filters, kernelSize, strides, padding, useBias: false, kernelInitializer: init(), name });
  const apply = (layer: tfTypes.layers.Layer, x: SymbolicTensor) => layer.apply(x) as SymbolicTensor;
  // Keras's correct_pad for a 3x3 stride-2 window: one row/column more at the bottom/right when
  // the size is even.
  const pad = (x: SymbolicTensor, name: string) => {
    const [h, w] = x.shape.slice(1, 3) as [number, number];
    const padding: [[number, number], [number, number]] = [
      [1 - (h % 2), 1],
      [1 - (w % 2), 1],
    ];
    return apply(tf.layers.zeroPadding2d({ padding, name }), x);
  };

  const input = tf.input({ shape: [...inputShape], name: "input_1" });
  const first = makeDivisible(32 * alpha);
  let x = apply(conv(first, 3, 2, "valid", "Conv1"), pad(input, "Conv1_pad"));
  x = apply(relu6("Conv1_relu"), apply(bn("bn_Conv1"), x));

  let block = 0;
  for (const [expansion, channels, repeats, stride] of STAGES) {
    const out = makeDivisible(channels * alpha);
    for (let r = 0; r < repeats; r++, block++) {
      const s = r === 0 ? stride : 1;
      const inChannels = x.shape[3] as number;
      const prefix = block === 0 ? "expanded_conv_" : `block_${block}_`;
      let h = x;
      if (block > 0) {
        h = apply(conv(expansion * inChannels, 1, 1, "same", `${prefix}expand`), h);
        h = apply(relu6(`${prefix}expand_relu`), apply(bn(`${prefix}expand_BN`), h));
      }
      if (s === 2) h = pad(h, `${prefix}pad`);
      h = apply(
        tf.layers.depthwiseConv2d({
          kernelSize: 3,
          strides: s,
          padding: s === 1 ? "same" : "valid",
          useBias: false,
          depthwiseInitializer: init(),
          name: `${prefix}depthwise`,
        }),
        h,
      );
      h = apply(relu6(`${prefix}depthwise_relu`), apply(bn(`${prefix}depthwise_BN`), h));
      h = apply(bn(`${prefix}project_BN`), apply(conv(out, 1, 1, "same", `${prefix}project`), h));
      x = inChannels === out && s === 1 ? apply(tf.layers.add({ name: `${prefix}add` }), [x, h] as never) : h;
    }
  }
  // Keras keeps 1280 channels for alpha <= 1 and widens them only above.
  const last = alpha > 1 ? makeDivisible(1280 * alpha) : 1280;
  x = apply(conv(last, 1, 1, "valid", "Conv_1"), x);
  x = apply(relu6("out_relu"), apply(bn("Conv_1_bn"), x));
  x = apply(tf.layers.globalAveragePooling2d({ name: "global_average_pooling2d" }), x);
  const logits = apply(
    tf.layers.dense({ units: numClasses, activation: "softmax", kernelInitializer: init(), name: "logits" }),
    x,
  );
  return tf.model({ inputs: input, outputs: logits, name: `mobilenetv2_${alpha}_${inputShape[0]}` });
}
