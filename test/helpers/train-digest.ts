// Trains the benchmark CNN for a few steps on the wasm backend and prints the thread count and
// the SHA-256 of the resulting weights (test/model/native-kernels.test.ts runs it per thread count).
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { createAdam } from "../../src/model/adam.js";
import { buildModel } from "../../src/model/archs.js";
import { loadTf } from "../../src/model/backend.js";
import { loadDataset } from "../../src/model/datasets/index.js";
import { fitModel } from "../../src/model/train-loop.js";

const { tf, info } = await loadTf("wasm");
const mnist = await loadDataset("mnist");
const count = 256;
const data = {
  ...mnist,
  train: {
    x: mnist.train.x.subarray(0, count * 784),
    y: mnist.train.y.subarray(0, count),
    count,
    pixels: mnist.train.pixels.subarray(0, count * 784),
  },
};
const model = buildModel(tf, "cnn", data.inputShape, data.numClasses, 7);
model.compile({ optimizer: createAdam(tf, 1e-3), loss: "categoricalCrossentropy" });
await fitModel(tf, model, data, { epochs: 1, batchSize: 64, seed: 7, maxShift: 1 });
const hash = createHash("sha256");
for (const w of model.getWeights()) hash.update(new Uint8Array((w.dataSync() as Float32Array).buffer));
// The threaded build's worker script, written to tmp to start the pool, must be gone already.
let leftovers: string[] = [];
try {
  leftovers = readdirSync(tmpdir()).filter((f) => f.startsWith("provmark-wasm-"));
} catch {
  // A TMPDIR that is not a directory (the test of the single-threaded fall-back): nothing to leave.
}
const out = {
  threads: info.wasm?.threads,
  threadsUnavailable: info.wasm?.threadsUnavailable,
  digest: hash.digest("hex"),
  leftovers,
};
process.stdout.write(`${JSON.stringify(out)}\n`);
