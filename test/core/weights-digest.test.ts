import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { weightLeafDigest, weightLeafHeader, weightsRoot } from "../../src/core/digest/index.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("weights digest", () => {
  it("is independent of the order weights are listed in", () => {
    const weight = fc.record({
      name: fc.string({ minLength: 1, maxLength: 10 }),
      bytes: fc.uint8Array({ minLength: 0, maxLength: 64 }),
    });
    fc.assert(
      fc.property(fc.uniqueArray(weight, { minLength: 1, maxLength: 10, selector: (w) => w.name }), (ws) => {
        const leaves = ws.map((w) => ({
          name: w.name,
          digest: weightLeafDigest({ name: w.name, dtype: "uint8", shape: [w.bytes.length] }, w.bytes),
        }));
        expect(weightsRoot([...leaves].reverse())).toBe(weightsRoot(leaves));
      }),
    );
  });

  it("binds name, dtype, shape, quantization and bytes", () => {
    const bytes = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const base = { name: "dense/kernel", dtype: "float32", shape: [2, 1] };
    const d = hex(weightLeafDigest(base, bytes));
    const variants = [
      weightLeafDigest({ ...base, name: "dense/bias" }, bytes),
      weightLeafDigest({ ...base, dtype: "int32" }, bytes),
      weightLeafDigest({ ...base, shape: [1, 2] }, bytes),
      weightLeafDigest({ ...base, quantization: { dtype: "float16" } }, bytes),
      weightLeafDigest(
        base,
        bytes.map((b, i) => (i === 7 ? b ^ 1 : b)),
      ),
    ].map(hex);
    expect(new Set([d, ...variants]).size).toBe(6);
  });

  it("encodes headers unambiguously (length-prefixed fields)", () => {
    const a = weightLeafHeader({ name: "ab", dtype: "c", shape: [] }, 0);
    const b = weightLeafHeader({ name: "a", dtype: "bc", shape: [] }, 0);
    expect(hex(a)).not.toBe(hex(b));
  });

  // Known answer computed independently with Python's hashlib from the encoding in docs/digests.md.
  it("has a pinned known answer", () => {
    const leaf = weightLeafDigest({ name: "w", dtype: "float32", shape: [1] }, new Uint8Array([0, 0, 128, 63]));
    expect(weightsRoot([{ name: "w", digest: leaf }])).toBe(
      "f5b37bca7c2490532e84367905aeb21b281c96570a39e5d0989b95c566b4de92",
    );
  });
});
