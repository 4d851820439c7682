import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTf } from "../../src/model/backend.js";
import { readNamedWeights } from "../../src/model/fs-io-handler.js";
import { hashModel } from "../../src/model/hash-model.js";
import { inspectModel } from "../../src/model/inspect-model.js";
import { f32, tempDir, writeFakeModel } from "../helpers/fixtures.js";

/** A GraphModel model.json as tensorflowjs_converter writes it (graph topology, no Keras config). */
async function graphModel(dir: string) {
  await writeFakeModel(dir, [
    { name: "StatefulPartitionedCall/dense/MatMul/ReadVariableOp", shape: [2, 2], bytes: f32([1, 2, 3, 4]) },
    {
      name: "StatefulPartitionedCall/dense/BiasAdd/ReadVariableOp",
      shape: [2],
      quantization: { dtype: "uint8", scale: 0.5, min: -1 },
      bytes: new Uint8Array([2, 4]),
    },
  ]);
  const m = JSON.parse(await readFile(join(dir, "model.json"), "utf8"));
  const modelTopology = {
    node: [
      { name: "x", op: "Placeholder" },
      { name: "StatefulPartitionedCall/dense/MatMul/ReadVariableOp", op: "Const" },
      { name: "StatefulPartitionedCall/dense/BiasAdd/ReadVariableOp", op: "Const" },
      { name: "StatefulPartitionedCall/dense/MatMul", op: "MatMul" },
      { name: "Identity", op: "BiasAdd" },
    ],
    library: {},
    versions: { producer: 1286 },
  };
  const { format: _drop, ...rest } = m;
  await writeFile(
    join(dir, "model.json"),
    JSON.stringify({ ...rest, modelTopology, convertedBy: "TensorFlow.js Converter v4.22.0" }),
  );
}

describe("GraphModel model.json", () => {
  it("is recognised by its topology, inspected, hashed and decoded", async () => {
    const dir = join(await tempDir(), "graph");
    await graphModel(dir);
    const info = await inspectModel(dir);
    expect(info.format).toBe("graph-model");
    expect(info.ops).toEqual({ Placeholder: 1, Const: 2, MatMul: 1, BiasAdd: 1 });
    expect(info.paramCount).toBe(6);
    expect(info.quantization).toEqual({ float32: 1, uint8: 1 });
    expect((await hashModel(dir)).format).toBe("graph-model");
    const { tf } = await loadTf("wasm");
    const w = await readNamedWeights(tf, dir);
    expect(Array.from(w["StatefulPartitionedCall/dense/MatMul/ReadVariableOp"]?.dataSync() ?? [])).toEqual([
      1, 2, 3, 4,
    ]);
    expect(Array.from(w["StatefulPartitionedCall/dense/BiasAdd/ReadVariableOp"]?.dataSync() ?? [])).toEqual([0, 1]);
    tf.dispose(Object.values(w));
  });
});
