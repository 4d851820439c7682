import { createRng } from "../core/rng.js";
import { gaussian } from "./weight-transforms.js";

/** A preprocessing a thief applies to every query before it reaches the stolen model. */
export type InputTransform =
  | { kind: "noise"; sigma: number }
  | { kind: "blur"; radius: number }
  | { kind: "downsample"; factor: number }
  | { kind: "pixel-quantize"; bits: number };

export function inputTransformLabel(t: InputTransform): string {
  switch (t.kind) {
    case "noise":
      return `gaussian noise σ=${t.sigma}`;
    case "blur":
      return `box blur ${2 * t.radius + 1}×${2 * t.radius + 1}`;
    case "downsample":
      return `downsample ×${t.factor} then upsample`;
    case "pixel-quantize":
      return `${t.bits}-bit pixels`;
  }
}

/**
 * Applies a transform to a batch of images in [0, 1] (count × h·w·c, channels last); returns a new
 * array, values kept in [0, 1]. Noise is seeded, so the same call gives the same pixels.
 */
export function transformImages(
  x: Float32Array,
  shape: readonly [number, number, number],
  t: InputTransform,
  seed = 1,
): Float32Array {
  const [h, w, c] = shape;
  const px = h * w * c;
  const out = new Float32Array(x.length);
  if (t.kind === "noise") {
    const rng = createRng(seed, "lab-input-noise");
    for (let i = 0; i < x.length; i++) out[i] = clamp01((x[i] as number) + t.sigma * gaussian(rng));
    return out;
  }
  if (t.kind === "pixel-quantize") {
    const top = 2 ** t.bits - 1;
    for (let i = 0; i < x.length; i++) out[i] = Math.round((x[i] as number) * top) / top;
    return out;
  }
  const at = (img: number, y: number, xx: number, ch: number) => x[img + (y * w + xx) * c + ch] as number;
  for (let img = 0; img < x.length; img += px) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        for (let ch = 0; ch < c; ch++) {
          let sum = 0;
          let n = 0;
          if (t.kind === "blur") {
            for (let dy = -t.radius; dy <= t.radius; dy++) {
              for (let dx = -t.radius; dx <= t.radius; dx++) {
                const yy = y + dy;
                const xs = xx + dx;
                if (yy < 0 || yy >= h || xs < 0 || xs >= w) continue;
                sum += at(img, yy, xs, ch);
                n++;
              }
            }
          } else {
            // Average over the factor×factor cell the pixel falls in (downsample), copied back (upsample).
            const y0 = y - (y % t.factor);
            const x0 = xx - (xx % t.factor);
            for (let yy = y0; yy < Math.min(h, y0 + t.factor); yy++) {
              for (let xs = x0; xs < Math.min(w, x0 + t.factor); xs++) {
                sum += at(img, yy, xs, ch);
                n++;
              }
            }
          }
          out[img + (y * w + xx) * c + ch] = sum / n;
        }
      }
    }
  }
  return out;
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));
