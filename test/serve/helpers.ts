import { request } from "node:http";
import { join } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs";
import type { TF } from "../../src/model/backend.js";
import { fileSaveHandler } from "../../src/model/fs-io-handler.js";
import { tempDir } from "../helpers/fixtures.js";

/** The tiny model's input: not square, two channels, so a wrong layout changes the answer. */
export const SHAPE = [6, 5, 2] as const;
export const SIZE = SHAPE[0] * SHAPE[1] * SHAPE[2];
export const CLASSES = 3;

/** A small seeded CNN (conv → flatten → dense softmax) saved as a LayersModel in a temp dir. */
export async function saveTinyModel(tf: TF, name = "tiny"): Promise<{ dir: string; model: tfTypes.LayersModel }> {
  const model = tf.sequential({ name: "tiny" });
  model.add(
    tf.layers.conv2d({
      inputShape: [...SHAPE],
      filters: 4,
      kernelSize: 3,
      activation: "relu",
      kernelInitializer: tf.initializers.glorotUniform({ seed: 11 }),
      biasInitializer: tf.initializers.constant({ value: 0.05 }),
      name: "conv",
    }),
  );
  model.add(tf.layers.flatten({ name: "flatten" }));
  model.add(
    tf.layers.dense({
      units: CLASSES,
      activation: "softmax",
      kernelInitializer: tf.initializers.glorotUniform({ seed: 12 }),
      name: "logits",
    }),
  );
  const dir = join(await tempDir("provmark-serve-"), name);
  await model.save(fileSaveHandler(tf, dir));
  return { dir, model };
}

/** `n` deterministic instances, flat, values in [0, 1) exactly representable as float32. */
export function instances(n: number, seed: number): Float32Array[] {
  let s = seed * 7919 + 1;
  return Array.from({ length: n }, () =>
    Float32Array.from({ length: SIZE }, () => {
      s = (s * 1103515245 + 12345) >>> 0;
      return (s >>> 8) / 2 ** 24;
    }),
  );
}

/** A flat instance nested as [h][w][c]. */
export function nest(flat: Float32Array): number[][][] {
  const [h, w, c] = SHAPE;
  return Array.from({ length: h }, (_, i) =>
    Array.from({ length: w }, (_, j) => Array.from(flat.subarray((i * w + j) * c, (i * w + j + 1) * c))),
  );
}

/** The model's own predictions for these instances, one row each. */
export function expected(tf: TF, model: tfTypes.LayersModel, xs: readonly Float32Array[]): number[][] {
  const flat = new Float32Array(xs.length * SIZE);
  for (const [i, x] of xs.entries()) flat.set(x, i * SIZE);
  const y = tf.tidy(() => (model.predict(tf.tensor(flat, [xs.length, ...SHAPE])) as tfTypes.Tensor).dataSync());
  return xs.map((_, i) => Array.from(y.subarray(i * CLASSES, (i + 1) * CLASSES)));
}

/** Largest absolute difference between two row sets of equal shape (Infinity if shapes differ). */
export function maxAbsDiff(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (const [i, row] of a.entries()) {
    const other = b[i] as readonly number[];
    if (row.length !== other.length) return Number.POSITIVE_INFINITY;
    for (const [j, v] of row.entries()) m = Math.max(m, Math.abs(v - (other[j] as number)));
  }
  return m;
}

export interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test convenience for reading JSON bodies
  json: any;
}

/** fetch with a JSON (or raw string) body; the reply's body parsed as JSON. */
export async function call(
  url: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const body =
    init.body === undefined ? undefined : typeof init.body === "string" ? init.body : JSON.stringify(init.body);
  const res = await fetch(url, {
    method: init.method ?? (body === undefined ? "GET" : "POST"),
    headers: { "content-type": "application/json", ...init.headers },
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text === "" ? undefined : JSON.parse(text) };
}

/**
 * Streams up to `total` bytes of body to `url` in 64 KiB chunks and stops as soon as a response
 * arrives; returns its status and body and how many bytes were written by then.
 */
export function streamBody(
  url: string,
  total: number,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; written: number }> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let written = 0;
    let answered = false;
    const req = request(url, { method: "POST", headers: { "content-type": "application/json", ...headers } });
    req.on("response", (res) => {
      answered = true;
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body, written });
      });
    });
    // the server closes the connection after answering; a write error then is expected
    req.on("error", (e) => {
      if (!answered) reject(e);
    });
    const pump = () => {
      while (!answered && written < total) {
        written += chunk.length;
        if (!req.write(chunk)) {
          req.once("drain", pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    pump();
  });
}
