export { type FileDigest, filesRoot, sha256sumLine } from "./files-root.js";
export {
  type WeightIdentity,
  type WeightLeaf,
  weightLeafDigest,
  weightLeafHeader,
  weightsRoot,
} from "./weights-digest.js";
