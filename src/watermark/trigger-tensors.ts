import type * as tfTypes from "@tensorflow/tfjs";
import { inputShape, inputSize, type ModelIO, toModelInput } from "../core/input/model-io.js";
import type { Trigger } from "../core/watermark/triggers.js";

type TF = typeof tfTypes;

/** Triggers as the model's input batch [n, ...shape], through the key's preprocessing. */
export function triggerBatch(tf: TF, triggers: readonly Trigger[], io: ModelIO): tfTypes.Tensor {
  return tf.tensor(triggerInputs(triggers, io), [triggers.length, ...inputShape(io.input)]);
}

/** Triggers as the model's inputs, back to back, through the key's preprocessing. */
export function triggerInputs(triggers: readonly Trigger[], io: ModelIO): Float32Array {
  const px = inputSize(io.input);
  const x = new Float32Array(triggers.length * px);
  triggers.forEach((t, i) => {
    x.set(toModelInput(io.input, t.input), i * px);
  });
  return x;
}

/** The model's top-1 label for each input of a batch, predicted in chunks inside tidy(). */
export function predictLabels(tf: TF, model: tfTypes.LayersModel, x: tfTypes.Tensor, chunk = 256): Int32Array {
  return labelsOf(tf, (b) => model.predict(b) as tfTypes.Tensor, x, chunk);
}

/** Top-1 labels of `forward` (in inference mode) on a batch, in chunks inside tidy(). */
export function labelsOf(
  tf: TF,
  forward: (x: tfTypes.Tensor, training: boolean) => tfTypes.Tensor,
  x: tfTypes.Tensor,
  chunk = 256,
): Int32Array {
  const n = x.shape[0] ?? 0;
  const out = new Int32Array(n);
  for (let s = 0; s < n; s += chunk) {
    out.set(
      tf.tidy(() =>
        forward(x.slice(s, Math.min(chunk, n - s)), false)
          .argMax(-1)
          .dataSync(),
      ),
      s,
    );
  }
  return out;
}
