import { createHash } from "node:crypto";
import { join } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs";
import { toHex } from "../../../src/core/digest/bytes.js";
import { toModelInput } from "../../../src/core/input/model-io.js";
import { keyCommitment } from "../../../src/core/keys/derive.js";
import { createRng, permutation } from "../../../src/core/rng.js";
import { openDawnLogWriter } from "../../../src/guard/dawn-log.js";
import { createAdam } from "../../../src/model/adam.js";
import { buildModel } from "../../../src/model/archs.js";
import type { TF } from "../../../src/model/backend.js";
import type { ImageDataset, ImageSplit } from "../../../src/model/datasets/index.js";
import { fileSaveHandler, loadLayersModel } from "../../../src/model/fs-io-handler.js";
import { fitModel } from "../../../src/model/train-loop.js";

const PX = 784;

/**
 * Examples [from, from + count) of a seeded shuffle of a split, as a split of their own (the mnist
 * package's splits are sorted by class: a plain range would hold one or two digits only).
 */
export function slice(s: ImageSplit, from: number, count: number): ImageSplit {
  const order = permutation(s.count, createRng(11, "dawn-fixture/order"));
  const x = new Float32Array(count * PX);
  const pixels = new Uint8Array(count * PX);
  const y = new Uint16Array(count);
  for (let i = 0; i < count; i++) {
    const j = order[from + i] as number;
    x.set(s.x.subarray(j * PX, (j + 1) * PX), i * PX);
    pixels.set(s.pixels.subarray(j * PX, (j + 1) * PX), i * PX);
    y[i] = s.y[j] as number;
  }
  return { x, y, pixels, count };
}

/** Trains a small MLP on `train` and saves it: seeded, so a run gives the same model every time. */
export async function trainSaved(
  tf: TF,
  mnist: ImageDataset,
  train: ImageSplit,
  o: { seed: number; epochs: number; out: string; from?: string },
): Promise<string> {
  const model = o.from
    ? await loadLayersModel(tf, o.from)
    : buildModel(tf, "mlp-small", mnist.inputShape, mnist.numClasses, o.seed);
  model.compile({ optimizer: createAdam(tf, 2e-3), loss: "categoricalCrossentropy" });
  await fitModel(tf, model, { ...mnist, train }, { epochs: o.epochs, batchSize: 64, seed: o.seed });
  await model.save(fileSaveHandler(tf, o.out));
  model.dispose();
  return o.out;
}

export function predict(tf: TF, model: tfTypes.LayersModel, s: ImageSplit): number[] {
  return Array.from(
    tf.tidy(() => (model.predict(tf.tensor(s.x, [s.count, 28, 28, 1])) as tfTypes.Tensor).argMax(-1).dataSync()),
  );
}

export interface LoggedQuery {
  client: string;
  index: number;
  servedLabel: number;
  modelLabel: number;
}

/**
 * Writes a DAWN log as the guard would have: each client's digits, the victim's answer, and an
 * altered label drawn uniformly (seeded) from the other nine classes.
 */
export async function writeDawnFixture(
  tf: TF,
  o: {
    seed: Uint8Array;
    victimDir: string;
    mnist: ImageDataset;
    clients: { client: string; split: ImageSplit }[];
    path: string;
  },
): Promise<LoggedQuery[][]> {
  const victim = await loadLayersModel(tf, o.victimDir);
  const io = o.mnist.io;
  const w = await openDawnLogWriter(o.path, o.seed, {
    modelIO: io,
    rate: 0.1,
    keyCommitment: toHex(keyCommitment(o.seed)),
  });
  const rng = createRng(7, "dawn-fixture");
  const out: LoggedQuery[][] = [];
  try {
    for (const { client, split } of o.clients) {
      const said = predict(tf, victim, split);
      const list: LoggedQuery[] = [];
      for (let i = 0; i < split.count; i++) {
        const modelLabel = said[i] as number;
        const other = rng.int(9);
        const servedLabel = other >= modelLabel ? other + 1 : other;
        const pixels = split.pixels.subarray(i * PX, (i + 1) * PX);
        await w.append({
          client,
          time: new Date(Date.UTC(2026, 5, 1, 0, 0, i)).toISOString(),
          shape: [28, 28, 1],
          input: toModelInput(io.input, pixels),
          inputSha256: createHash("sha256").update(pixels).digest("hex"),
          servedLabel,
          modelLabel,
          classes: 10,
        });
        list.push({ client, index: i, servedLabel, modelLabel });
      }
      out.push(list);
    }
  } finally {
    await w.close();
    victim.dispose();
  }
  return out;
}

/**
 * The thief's surrogate: the victim fine-tuned on the answers it was served (the altered labels
 * among them, repeated so they stick) mixed with clean data.
 */
export async function trainSurrogate(
  tf: TF,
  o: { mnist: ImageDataset; victimDir: string; stolen: ImageSplit; altered: number[]; clean: ImageSplit; out: string },
): Promise<string> {
  const reps = 6;
  const n = o.stolen.count * reps + o.clean.count;
  const x = new Float32Array(n * PX);
  const pixels = new Uint8Array(n * PX);
  const y = new Uint16Array(n);
  for (let r = 0; r < reps; r++) {
    x.set(o.stolen.x, r * o.stolen.count * PX);
    pixels.set(o.stolen.pixels, r * o.stolen.count * PX);
    y.set(o.altered, r * o.stolen.count);
  }
  x.set(o.clean.x, reps * o.stolen.count * PX);
  pixels.set(o.clean.pixels, reps * o.stolen.count * PX);
  y.set(o.clean.y, reps * o.stolen.count);
  return trainSaved(tf, o.mnist, { x, y, pixels, count: n }, { seed: 5, epochs: 6, out: o.out, from: o.victimDir });
}

export const modelDir = (root: string, name: string) => join(root, name);
