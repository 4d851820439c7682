import { KeyStream } from "../keys/derive.js";
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
        input: noiseImage(noise, shape),
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

/**
 * A random image: a coarse random grid (4..14 cells a side) upsampled bilinearly, high contrast, plus
 * grain. Finer, more saturated patterns are more distinct from one another, so a model learns their
 * random labels in fewer steps (measured: 1.5-1.8 instead of 2-3.5 epochs on MNIST) at no cost in accuracy.
 */
function noiseImage(s: KeyStream, [h, w, c]: readonly [number, number, number]): Uint8Array {
  const g = 4 + s.int(11);
  const coarse = Float32Array.from({ length: g * g * c }, () => s.uniform());
  const img = new Uint8Array(h * w * c);
  for (let y = 0; y < h; y++) {
    const fy = (y / Math.max(1, h - 1)) * (g - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(g - 1, y0 + 1);
    const ty = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = (x / Math.max(1, w - 1)) * (g - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(g - 1, x0 + 1);
      const tx = fx - x0;
      for (let ch = 0; ch < c; ch++) {
        const at = (yy: number, xx: number) => coarse[(yy * g + xx) * c + ch] as number;
        const v = (1 - ty) * ((1 - tx) * at(y0, x0) + tx * at(y0, x1)) + ty * ((1 - tx) * at(y1, x0) + tx * at(y1, x1));
        const grain = s.uniform() - 0.5;
        img[(y * w + x) * c + ch] = Math.round(Math.min(1, Math.max(0, 2.5 * (v - 0.5) + 0.5 + 0.3 * grain)) * 255);
      }
    }
  }
  return img;
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
