import type * as tfTypes from "@tensorflow/tfjs";

/**
 * Disposes a model and its weights at every depth. TF.js 4.22's `dispose()` leaves the weights of a
 * nested Sequential that its parent applies (Teachable Machine's head, for one) alive: that layer's
 * reference count never reaches zero. The variables are taken before, so none is disposed twice.
 */
export function disposeModel(model: tfTypes.LayersModel): void {
  const variables = model.weights.map((w) => w.read());
  model.dispose();
  for (const v of variables) if (!v.isDisposed) v.dispose();
}
