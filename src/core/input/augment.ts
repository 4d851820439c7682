import { ProvmarkError } from "../../errors.js";
import type { Rng } from "../rng.js";

/** An image held as bytes: height × width × channels, row-major, channels last, gray or RGB. */
export interface ImageShape {
  readonly height: number;
  readonly width: number;
  readonly channels: 1 | 3;
}

/** Strengths of each random change; 0 everywhere is the identity. */
export interface AugmentOptions {
  /** Random crop resized back to full size: its side is a fraction in [1 − crop, 1] of the image's. ≤ 0.9. */
  readonly crop: number;
  /** Probability of a horizontal flip, in [0, 1]. */
  readonly flip: number;
  /** Brightness factor drawn in [1 − b, 1 + b], b in [0, 1]. */
  readonly brightness: number;
  /** Contrast factor (blend with the image's mean gray) drawn in [1 − c, 1 + c], c in [0, 1]. */
  readonly contrast: number;
  /** Saturation factor (blend with each pixel's gray; RGB only) drawn in [1 − s, 1 + s], s in [0, 1]. */
  readonly saturation: number;
}

export const NO_AUGMENTATION: AugmentOptions = { crop: 0, flip: 0, brightness: 0, contrast: 0, saturation: 0 };
/** For tiny datasets (Teachable Machine's 22 images): mild changes a webcam frame also shows. */
export const DEFAULT_AUGMENTATION: AugmentOptions = {
  crop: 0.2,
  flip: 0.5,
  brightness: 0.2,
  contrast: 0.2,
  saturation: 0.2,
};

const LIMITS = { crop: 0.9, flip: 1, brightness: 1, contrast: 1, saturation: 1 } as const;
/**
 * Teachable Machine's gray weights (as in decoding), scaled to sum to 1 so that a neutral gray is its
 * own gray: contrast and saturation blend towards it and leave flat and neutral images alone.
 */
const LUMA = [0.2989 / 0.9999, 0.587 / 0.9999, 0.114 / 0.9999] as const;

/** Throws USAGE naming the first strength outside its range. */
export function assertAugmentOptions(o: AugmentOptions): void {
  for (const [name, max] of Object.entries(LIMITS) as [keyof AugmentOptions, number][]) {
    const v = o[name];
    if (!(v >= 0 && v <= max)) {
      throw new ProvmarkError("USAGE", `augmentation ${name} must be in [0, ${max}], got ${v}`, {
        subject: `augmentation.${name}`,
        hints: ["0 turns a change off; see DEFAULT_AUGMENTATION for mild settings."],
      });
    }
  }
}

/**
 * One random variant of an image, deterministic in `rng`: a crop of random size and place resized back
 * (bilinear, aspect kept), a horizontal flip, then brightness, contrast and saturation applied as one
 * linear map per pixel, clamped and rounded once. Every image draws the same 7 numbers from `rng`
 * whatever the strengths, so changing one strength leaves the others' draws alone. Pure: writes `out`
 * (a new array by default, never `src`) and returns it.
 *
 * @example
 * const rng = createRng(seed, `augment/epoch-${epoch}`);
 * for (let i = 0; i < n; i++) augmentImage(pixels.subarray(i * size, (i + 1) * size), shape, DEFAULT_AUGMENTATION, rng, buf);
 */
export function augmentImage(
  src: Uint8Array,
  shape: ImageShape,
  options: AugmentOptions,
  rng: Rng,
  out: Uint8Array = new Uint8Array(src.length),
): Uint8Array {
  const { height: h, width: w, channels: c } = shape;
  if (src.length !== h * w * c || out.length !== src.length) {
    throw new RangeError(`image of ${src.length} bytes into ${out.length} for shape ${h}×${w}×${c}`);
  }
  if (out.buffer === src.buffer) throw new RangeError("augmentImage cannot write over its source");
  assertAugmentOptions(options);
  const scale = 1 - options.crop * rng.next();
  const top = rng.next();
  const left = rng.next();
  const flip = rng.next() < options.flip;
  const jitter = (strength: number) => 1 + strength * (2 * rng.next() - 1);
  const b = jitter(options.brightness);
  const k = jitter(options.contrast);
  const saturation = jitter(options.saturation);
  const s = c === 3 ? saturation : 1;
  const meanGray =
    scale === 1 && !flip ? copyImage(src, out, c, k !== 1) : resample(src, out, shape, scale, top, left, flip, k !== 1);
  if (b === 1 && k === 1 && s === 1) return out;
  // brightness then contrast: v' = k·(b·v) + (1 − k)·b·mean; saturation: s·v' + (1 − s)·gray(v')
  const gain = k * b;
  const lift = (1 - k) * b * meanGray;
  const clamped = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length);
  if (c === 1) {
    for (let i = 0; i < out.length; i++) clamped[i] = gain * (out[i] as number) + lift;
    return out;
  }
  for (let i = 0; i < out.length; i += 3) {
    const r = gain * (out[i] as number) + lift;
    const g = gain * (out[i + 1] as number) + lift;
    const bl = gain * (out[i + 2] as number) + lift;
    const gray = (1 - s) * (LUMA[0] * r + LUMA[1] * g + LUMA[2] * bl);
    clamped[i] = s * r + gray;
    clamped[i + 1] = s * g + gray;
    clamped[i + 2] = s * bl + gray;
  }
  return out;
}

/** The uncropped, unflipped case (what resample would give, faster); the mean gray when wanted. */
function copyImage(src: Uint8Array, out: Uint8Array, c: 1 | 3, wantMean: boolean): number {
  out.set(src);
  if (!wantMean) return 0;
  let sum = 0;
  if (c === 1) for (const v of src) sum += v;
  else {
    for (let i = 0; i < src.length; i += 3) {
      sum += LUMA[0] * (src[i] as number) + LUMA[1] * (src[i + 1] as number) + LUMA[2] * (src[i + 2] as number);
    }
  }
  return sum / (src.length / c);
}

/**
 * Writes the crop (side `scale` of the image's, placed at fractions `top`, `left` of the free room),
 * flipped if asked, resized bilinearly to full size; returns the result's mean gray when `wantMean`.
 * At scale 1 every sample falls on a source pixel, so no crop and no flip copy the image exactly.
 */
function resample(
  src: Uint8Array,
  out: Uint8Array,
  { height: h, width: w, channels: c }: ImageShape,
  scale: number,
  top: number,
  left: number,
  flip: boolean,
  wantMean: boolean,
): number {
  const y0s = (h - h * scale) * top;
  const x0s = (w - w * scale) * left;
  const x0 = new Int32Array(w);
  const x1 = new Int32Array(w);
  const fx = new Float64Array(w);
  for (let x = 0; x < w; x++) {
    const sx = Math.min(w - 1, Math.max(0, x0s + ((flip ? w - 1 - x : x) + 0.5) * scale - 0.5));
    const lo = Math.floor(sx);
    x0[x] = lo * c;
    x1[x] = Math.min(lo + 1, w - 1) * c;
    fx[x] = sx - lo;
  }
  const clamped = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length);
  let graySum = 0;
  const luma = c === 3 ? LUMA : ([1, 0, 0] as const);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(h - 1, Math.max(0, y0s + (y + 0.5) * scale - 0.5));
    const lo = Math.floor(sy);
    const row0 = lo * w * c;
    const row1 = Math.min(lo + 1, h - 1) * w * c;
    const fy = sy - lo;
    for (let x = 0; x < w; x++) {
      const a = x0[x] as number;
      const bb = x1[x] as number;
      const t = fx[x] as number;
      const o = (y * w + x) * c;
      for (let ch = 0; ch < c; ch++) {
        const top0 =
          (src[row0 + a + ch] as number) + t * ((src[row0 + bb + ch] as number) - (src[row0 + a + ch] as number));
        const bot0 =
          (src[row1 + a + ch] as number) + t * ((src[row1 + bb + ch] as number) - (src[row1 + a + ch] as number));
        const v = top0 + fy * (bot0 - top0);
        clamped[o + ch] = v;
        if (wantMean) graySum += (luma[ch] as number) * v;
      }
    }
  }
  return graySum / (h * w);
}
