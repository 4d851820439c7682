import { weightLeafDigest, weightsRoot } from "../core/digest/index.js";
import { elementCount, storedBytesPerElement, type WeightSpec } from "./manifest-schema.js";

/**
 * The weights digest of weights held in memory (specs + concatenated bytes, as TF.js saves them);
 * equal to what `hashModel` computes once they are on disk.
 */
export function weightsDigestOf(specs: readonly WeightSpec[], data: Uint8Array): string {
  let off = 0;
  const leaves = specs.map((spec) => {
    const n = elementCount(spec.shape) * (storedBytesPerElement(spec) ?? 0);
    const leaf = { name: spec.name, digest: weightLeafDigest(spec, data.subarray(off, off + n)) };
    off += n;
    return leaf;
  });
  if (off !== data.length) throw new RangeError(`weight specs cover ${off} bytes of ${data.length}`);
  return weightsRoot(leaves);
}
