import { ProvmarkError } from "../../errors.js";
import type { ImageInput, InputSpec, VectorInput } from "../input/model-io.js";
import { inputSize } from "../input/model-io.js";

/** How coarse the robust hash is; the defaults are the ones measured in docs/guard-math.md. */
export interface RobustHashOptions {
  /** Images: the luma is pooled to grid × grid cells (at most the image's size). Fewer cells: more robust, less entropy. */
  grid?: number;
  /** Vectors: each feature's recorded [min, max] range is cut into this many bins (≤ 256). */
  bins?: number;
}

export const ROBUST_HASH_DEFAULTS = { grid: 7, bins: 8 } as const;

/** Version tag of the hash's layout: part of every hash, so a change of scheme never collides. */
const IMAGE_TAG = 1;
const VECTOR_TAG = 2;

/**
 * A hash of a model input that near-duplicates share: the DAWN decision is keyed on it, so a thief who
 * queries an input and slightly noisy or shifted copies of it gets the same (possibly altered) answer
 * for all of them, and averaging the copies ("smooth retraining") does not wash the mark out.
 *
 * Images (`x` in model space, preprocessing and channel order undone): the luma, less its median (the
 * background), is area-pooled to a grid × grid array of cells laid around its centre of mass (of the
 * pixels in the brighter half of its range), each cell one bit, set when the cell is above the mean
 * of all cells (an aHash). Centring makes integer shifts pool the same cells; pooling averages noise
 * away; the median and the mean make brightness changes (and contrast, for the bits) irrelevant.
 * Inputs whose cells sit near the mean still flip a bit under noise: the rates are measured on MNIST
 * in docs/guard-math.md (grid 7: 87% of digits keep their hash at σ = 0.02, 99.9% under 1-pixel shifts,
 * 63% of 10,000 digits have a hash of their own). Vectors: each feature quantised into `bins` equal
 * bins of the range the spec records (values outside are clamped to the end bins).
 * Layout: tag byte, the grid or bin count, then the bits (images, packed) or one byte per feature.
 *
 * @example robustInputHash(x, io.input) // Uint8Array [1, 7, …7 bytes of 49 cell bits]
 */
export function robustInputHash(x: Float32Array, spec: InputSpec, opts: RobustHashOptions = {}): Uint8Array {
  const n = inputSize(spec);
  if (x.length !== n) throw new ProvmarkError("USAGE", `robust hash: input has ${x.length} values, the spec ${n}`);
  return spec.kind === "image"
    ? imageHash(x, spec, opts.grid ?? ROBUST_HASH_DEFAULTS.grid)
    : vectorHash(x, spec, opts.bins ?? ROBUST_HASH_DEFAULTS.bins);
}

/** Luma of every pixel with the model's preprocessing undone, read in the model's channel order. */
function lumaPlane(x: Float32Array, spec: ImageInput): Float64Array {
  const c = spec.channels;
  const p = spec.preprocess;
  const n = spec.height * spec.width;
  // Per model channel: raw = (v − sub) / div; its luma weight (Rec. 601) by the channel's colour.
  const sub: number[] = [];
  const div: number[] = [];
  const wt: number[] = [];
  const colour = c === 1 ? [1] : spec.channelOrder === "bgr" ? [0.114, 0.587, 0.299] : [0.299, 0.587, 0.114];
  for (let ch = 0; ch < c; ch++) {
    if (p.type === "affine") {
      sub.push(p.offset);
      div.push(p.scale);
    } else {
      // (v − mean)/std was applied: raw = v·std + mean = (v − (−mean/std)) / (1/std).
      const sd = p.std[ch] ?? (p.std[0] as number);
      sub.push(-(p.mean[ch] ?? (p.mean[0] as number)) / sd);
      div.push(1 / sd);
    }
    wt.push(colour[ch] as number);
  }
  const out = new Float64Array(n);
  if (c === 1) {
    const s0 = sub[0] as number;
    const d0 = div[0] as number;
    for (let i = 0; i < n; i++) out[i] = ((x[i] as number) - s0) / d0;
    return out;
  }
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let ch = 0; ch < c; ch++)
      v += (wt[ch] as number) * (((x[i * c + ch] as number) - (sub[ch] as number)) / (div[ch] as number));
    out[i] = v;
  }
  return out;
}

/**
 * Weights of pixel p (the interval [p, p + 1) moved by −offset) in each of g cells of width size / g:
 * the overlap of the two intervals, so the pooling is continuous in the offset.
 */
function axisWeights(size: number, g: number, offset: number): Float64Array {
  const w = new Float64Array(g * size);
  const cell = size / g;
  for (let p = 0; p < size; p++) {
    const lo = p - offset;
    const hi = lo + 1;
    const first = Math.max(0, Math.floor(lo / cell));
    const last = Math.min(g - 1, Math.floor(hi / cell));
    for (let k = first; k <= last; k++) {
      const o = Math.min(hi, (k + 1) * cell) - Math.max(lo, k * cell);
      if (o > 0) w[k * size + p] = o;
    }
  }
  return w;
}

/** The median by quickselect (Hoare's selection, median-of-three pivots), O(n) on average. */
function median(v: Float64Array): number {
  const a = Float64Array.from(v);
  const n = a.length;
  const kth = (k: number): number => {
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const x = a[lo] as number;
      const y = a[mid] as number;
      const z = a[hi] as number;
      const pivot = Math.max(Math.min(x, y), Math.min(Math.max(x, y), z));
      let i = lo;
      let j = hi;
      while (i <= j) {
        while ((a[i] as number) < pivot) i++;
        while ((a[j] as number) > pivot) j--;
        if (i <= j) {
          const t = a[i] as number;
          a[i] = a[j] as number;
          a[j] = t;
          i++;
          j--;
        }
      }
      if (k <= j) hi = j;
      else if (k >= i) lo = i;
      else return a[k] as number;
    }
    return a[k] as number;
  };
  if (n % 2 === 1) return kth((n - 1) / 2);
  const upper = kth(n / 2);
  // After selecting n/2, every value left of it is ≤ it: the lower median is their maximum.
  let lower = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n / 2; i++) if ((a[i] as number) > lower) lower = a[i] as number;
  return (lower + upper) / 2;
}

function imageHash(x: Float32Array, spec: ImageInput, gridOpt: number): Uint8Array {
  const { height: h, width: w } = spec;
  const gy = Math.max(1, Math.min(gridOpt, h));
  const gx = Math.max(1, Math.min(gridOpt, w));
  const luma = lumaPlane(x, spec);
  let mass = 0;
  let my = 0;
  let mx = 0;
  let lmin = Number.POSITIVE_INFINITY;
  let lmax = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < h * w; i++) {
    const v = luma[i] as number;
    if (v < lmin) lmin = v;
    if (v > lmax) lmax = v;
  }
  // Pooled relative to the median (the background, for most images): cells the moved grid puts partly
  // outside the image then gain nothing from a brightness change, and no bit flips.
  const background = median(luma);
  for (let i = 0; i < luma.length; i++) luma[i] = (luma[i] as number) - background;
  const mid = (lmin + lmax) / 2 - background;
  for (let yy = 0; yy < h; yy++) {
    for (let xx = 0; xx < w; xx++) {
      // Only the brighter half of the range weighs in: noise on the background moves the centre nowhere.
      const m = Math.max(0, (luma[yy * w + xx] as number) - mid);
      mass += m;
      my += m * (yy + 0.5);
      mx += m * (xx + 0.5);
    }
  }
  // The grid is centred on the luma's centre of mass, so a translated image pools the same cells.
  const oy = mass > 0 ? my / mass - h / 2 : 0;
  const ox = mass > 0 ? mx / mass - w / 2 : 0;
  const wy = axisWeights(h, gy, oy);
  const wx = axisWeights(w, gx, ox);
  const rowsPooled = new Float64Array(gy * w);
  for (let k = 0; k < gy; k++) {
    for (let yy = 0; yy < h; yy++) {
      const f = wy[k * h + yy] as number;
      if (f === 0) continue;
      for (let xx = 0; xx < w; xx++)
        rowsPooled[k * w + xx] = (rowsPooled[k * w + xx] as number) + f * (luma[yy * w + xx] as number);
    }
  }
  const cells = new Float64Array(gy * gx);
  let mean = 0;
  for (let k = 0; k < gy; k++) {
    for (let j = 0; j < gx; j++) {
      let v = 0;
      for (let xx = 0; xx < w; xx++) v += (wx[j * w + xx] as number) * (rowsPooled[k * w + xx] as number);
      cells[k * gx + j] = v;
      mean += v;
    }
  }
  mean /= cells.length;
  const out = new Uint8Array(2 + Math.ceil(cells.length / 8));
  out[0] = IMAGE_TAG;
  out[1] = gridOpt & 0xff;
  for (let k = 0; k < cells.length; k++) {
    if ((cells[k] as number) > mean) out[2 + (k >> 3)] = (out[2 + (k >> 3)] as number) | (1 << (k & 7));
  }
  return out;
}

function vectorHash(x: Float32Array, spec: VectorInput, binsOpt: number): Uint8Array {
  const bins = Math.max(1, Math.min(256, Math.floor(binsOpt)));
  const out = new Uint8Array(2 + spec.features);
  out[0] = VECTOR_TAG;
  out[1] = bins - 1;
  for (let f = 0; f < spec.features; f++) {
    const [lo, hi] = spec.ranges[f] ?? [0, 0];
    const v = x[f] as number;
    const t = hi > lo ? (v - lo) / (hi - lo) : 0;
    out[2 + f] = Number.isFinite(t) ? Math.max(0, Math.min(bins - 1, Math.floor(t * bins))) : 0;
  }
  return out;
}
