import { KeyStream } from "../keys/derive.js";
import { noiseImage } from "./noise-image.js";
import { imageShape, pixelCount, stampTriggerCount, type WatermarkKey } from "./params.js";
import { deriveTriggersV2 } from "./trigger-derivation.js";

export interface Trigger {
  index: number;
  family: "noise" | "stamp";
  /**
   * Images: H×W×C bytes (row-major, channels last, gray or RGB) that the model sees through the key's
   * preprocessing. Vectors: the feature values themselves.
   */
  input: Uint8Array | Float32Array;
  /** The secret label the marked model learns. */
  label: number;
  /** Probability that a model which never saw the key predicts `label` (at most). */
  nullProbability: number;
  /** v2: the VRF proof σ_i that fixes this trigger (anyone with the public key can check it). */
  proof?: Uint8Array;
}

/** The trigger set of a key, byte-identical on every machine, by the key's derivation. */
export function deriveTriggers(key: WatermarkKey): Trigger[] {
  return key.params.derivation === "vrf/v2" ? deriveTriggersV2(key) : deriveTriggersV1(key);
}

/** A trigger's image bytes; vector triggers have none (callers that only handle images ask this). */
export function triggerPixels(t: Trigger): Uint8Array {
  if (!(t.input instanceof Uint8Array)) throw new RangeError(`trigger ${t.index} is a vector, not an image`);
  return t.input;
}

/**
 * The v1 trigger set (HKDF streams of the seed). Noise triggers are out-of-distribution
 * smooth random patterns with labels uniform over all classes (null match probability exactly 1/C).
 * Stamp triggers are the key's base images plus a faint key-derived stamp, labelled uniformly among
 * the classes other than the image's true one (null match probability at most 1/(C-1)). Labels come
 * from their own stream, independent of the images.
 */
function deriveTriggersV1(key: WatermarkKey): Trigger[] {
  const { params, seed } = key;
  const nStamp = stampTriggerCount(params);
  if (key.stampBases.length < nStamp) {
    throw new RangeError(`the key holds ${key.stampBases.length} stamp base images, ${nStamp} are needed`);
  }
  const C = params.io.classes.count;
  const shape = imageShape(params.io);
  const labels = new KeyStream(seed, "triggers/labels");
  const noise = new KeyStream(seed, "triggers/noise");
  const pattern = stampPattern(seed, pixelCount(params));
  const out: Trigger[] = [];
  for (let index = 0; index < params.triggers; index++) {
    if (index < params.triggers - nStamp) {
      out.push({
        index,
        family: "noise",
        input: noiseImage(noise, shape, "u32"),
        label: labels.int(C),
        nullProbability: 1 / C,
      });
    } else {
      const base = key.stampBases[index - (params.triggers - nStamp)] as { pixels: Uint8Array; label?: number };
      if (base.label === undefined) throw new RangeError("v1 stamp bases carry their true label");
      const input = new Uint8Array(base.pixels.length);
      for (let i = 0; i < input.length; i++) {
        const v = (base.pixels[i] as number) / 255 + params.stampStrength * (pattern[i] as number);
        input[i] = Math.round(Math.min(1, Math.max(0, v)) * 255);
      }
      const label = (base.label + 1 + labels.int(C - 1)) % C;
      out.push({ index, family: "stamp", input, label, nullProbability: 1 / (C - 1) });
    }
  }
  return out;
}

/** The key's stamp: a sparse pattern of +1 pixels (about one in six), the same for every stamp trigger. */
export function stampPattern(seed: Uint8Array, pixels: number): Float32Array {
  const s = new KeyStream(seed, "triggers/stamp-pattern");
  return Float32Array.from({ length: pixels }, () => (s.int(6) === 0 ? 1 : 0));
}

/** Indices of the dataset images a key uses as stamp bases: distinct, uniform, from "triggers/stamp-bases". */
export function chooseStampBases(seed: Uint8Array, count: number, available: number): number[] {
  if (count > available) throw new RangeError(`need ${count} base images, the dataset has ${available}`);
  const s = new KeyStream(seed, "triggers/stamp-bases");
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(s.int(available));
  return [...chosen];
}
