import type * as tfTypes from "@tensorflow/tfjs";
import type { TF } from "../model/backend.js";
import { RequestError } from "./http.js";
import type { ModelSignature } from "./tensor-json.js";

export interface InferenceQueue {
  /** The model's output for a batch of `n` instances, `n * classes` values row-major. */
  run(x: Float32Array, n: number): Promise<Float32Array>;
  /** Resolves once nothing is queued or running. */
  drain(): Promise<void>;
}

interface Job {
  x: Float32Array;
  n: number;
  resolve: (y: Float32Array) => void;
  reject: (e: unknown) => void;
}

/**
 * Serialises inference on one model. Requests that arrive while a batch runs are queued and run
 * together as the next batch (up to `maxBatch` instances; a request is never split), so concurrent
 * clients share one `predict` call instead of paying its fixed cost each. Each batch runs inside
 * `tf.tidy` and only a typed array leaves it, so no tensor outlives a request.
 *
 * A model's rows are independent: batching changes no instance's output.
 */
export function createInferenceQueue(
  tf: TF,
  model: tfTypes.LayersModel,
  sig: ModelSignature,
  maxBatch: number,
  /** Requests that may wait at once; one more is refused with 503 (Retry-After) instead of growing memory. */
  maxQueued = Number.POSITIVE_INFINITY,
): InferenceQueue {
  const queue: Job[] = [];
  let scheduled = false;
  let idleWaiters: (() => void)[] = [];

  const predict = (x: Float32Array, n: number): Float32Array =>
    tf.tidy(() => {
      const y = model.predict(tf.tensor(x, [n, ...sig.inputShape], "float32")) as tfTypes.Tensor;
      if (y.shape.length !== 2 || y.shape[0] !== n || y.shape[1] !== sig.classes) {
        throw new Error(`the model returned shape [${y.shape.join(", ")}], expected [${n}, ${sig.classes}]`);
      }
      return y.dataSync() as Float32Array;
    });

  const pump = () => {
    scheduled = false;
    const jobs: Job[] = [];
    let total = 0;
    while (queue.length > 0) {
      const next = queue[0] as Job;
      if (jobs.length > 0 && total + next.n > maxBatch) break;
      jobs.push(next);
      total += next.n;
      queue.shift();
    }
    if (jobs.length > 0) {
      try {
        let x = (jobs[0] as Job).x;
        if (jobs.length > 1) {
          x = new Float32Array(total * sig.inputSize);
          let off = 0;
          for (const j of jobs) {
            x.set(j.x, off);
            off += j.x.length;
          }
        }
        const y = predict(x, total);
        let row = 0;
        for (const j of jobs) {
          j.resolve(y.subarray(row * sig.classes, (row + j.n) * sig.classes));
          row += j.n;
        }
      } catch (e) {
        for (const j of jobs) j.reject(e);
      }
    }
    if (queue.length > 0) schedule();
    else {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  };

  // setImmediate lets pending I/O (other requests' bodies) be read before the next batch is cut.
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(pump);
  };

  return {
    run: (x, n) =>
      new Promise<Float32Array>((resolve, reject) => {
        if (queue.length >= maxQueued) {
          reject(new RequestError(503, "the inference queue is full: retry shortly", { "retry-after": "1" }));
          return;
        }
        queue.push({ x, n, resolve, reject });
        schedule();
      }),
    drain: () => (queue.length === 0 && !scheduled ? Promise.resolve() : new Promise<void>((r) => idleWaiters.push(r))),
  };
}
