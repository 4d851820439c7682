import type * as tfTypes from "@tensorflow/tfjs";
import type { Trigger } from "../core/watermark/triggers.js";

type TF = typeof tfTypes;

/** Trigger pixels as a float batch [n, h, w, c] scaled to [0, 1], the way the certificate says. */
export function triggerBatch(
  tf: TF,
  triggers: readonly Trigger[],
  shape: readonly [number, number, number],
): tfTypes.Tensor {
  const px = shape[0] * shape[1] * shape[2];
  const x = new Float32Array(triggers.length * px);
  triggers.forEach((t, i) => {
    for (let j = 0; j < px; j++) x[i * px + j] = (t.input[j] as number) / 255;
  });
  return tf.tensor(x, [triggers.length, ...shape]);
}

/** The model's top-1 label for each input of a batch, predicted in chunks inside tidy(). */
export function predictLabels(tf: TF, model: tfTypes.LayersModel, x: tfTypes.Tensor, chunk = 256): Int32Array {
  const n = x.shape[0] ?? 0;
  const out = new Int32Array(n);
  for (let s = 0; s < n; s += chunk) {
    const labels = tf.tidy(() =>
      (model.predict(x.slice(s, Math.min(chunk, n - s))) as tfTypes.Tensor).argMax(-1).dataSync(),
    );
    out.set(labels, s);
  }
  return out;
}
