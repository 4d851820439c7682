import { z } from "zod";
import { ProvmarkError } from "../../errors.js";
import { SHAPIRO_WILK_MAX_N, shapiroWilk } from "./shapiro-wilk.js";

/**
 * PRADA (Juuti, Szyller, Marchal, Asokan: "PRADA: Protecting against DNN Model Stealing Attacks",
 * EuroS&P 2019), one monitor per client, following the authors' reference code (SSG Aalto,
 * `growing_set.py`) where the paper leaves a choice open:
 *
 * - per predicted class c a growing set G_c; the first query predicted c seeds G_c and yields no
 *   distance; every later one yields d = min L2 distance to G_c, appended to the class's distances;
 * - x joins G_c when d > T_c, where T_c = max(T_c, mean − std of the distances with which G_c's
 *   members joined, the seed counting 0), starting at 0: so T_c never decreases;
 * - every `every` queries the distances of the classes with ≥ 10 of them are pooled, values
 *   3 std or more from the mean dropped; with more than `minDistances` left, W = Shapiro-Wilk(pool)
 *   and the client is flagged while W < δ (until the next test says otherwise).
 *
 * Natural queries of one user have roughly normal minimum distances; an extraction attack's
 * synthetic queries (small perturbations of seeds, or noise) give a skewed or multi-modal pool.
 *
 * Bounded memory, which the paper's unbounded sets do not have (what it changes is said at each cap):
 * - `maxRowsPerClient` rows in all of G (default 500): once full, a joining query evicts the oldest
 *   member of the largest class. An attacker's new query can then be compared with fewer of its
 *   ancestors, so its distance is larger than it would be: the pool looks less skewed only once the
 *   attack has run for more than the cap, by which time the test has had hundreds of chances.
 * - `maxDistances` distances in the pool (default 5000, Shapiro-Wilk's limit): a sliding window of
 *   the latest ones, so a client cannot dilute a later attack with a long benign history forever;
 *   the ≥ 10 per class rule counts within the window. T_c keeps its running sums over all history.
 *
 * @example
 * const m = new PradaMonitor({ delta: PRADA_DEFAULT_DELTA }, 784);
 * const o = m.observe(x, predictedClass); if (o.alert) ...
 */

/** δ calibrated on benign MNIST clients by scripts/calibrate-prada.ts (see docs/guard-math.md). */
export const PRADA_DEFAULT_DELTA = 0.93;

export interface PradaOptions {
  /** Alert while the pooled distances' Shapiro-Wilk W is below this. */
  delta: number;
  /** A test needs more pooled distances than this (after outliers are dropped). Default 100. */
  minDistances?: number;
  /** Test every this many queries. Default 10. */
  every?: number;
  /** Rows (past queries) kept in all growing sets together. Default 500. */
  maxRowsPerClient?: number;
  /** Distances kept for the test (a sliding window), at most 5000. Default 5000. */
  maxDistances?: number;
}

export interface PradaObservation {
  /** Queries observed so far, this one included. */
  queries: number;
  /** Minimum L2 distance to the predicted class's growing set; null when this query seeded it. */
  distance: number | null;
  /** The latest W computed (this query's if `tested`); null before the first test. */
  w: number | null;
  /** Whether a Shapiro-Wilk test ran at this query. */
  tested: boolean;
  /** The latest test's verdict: W < δ. */
  alert: boolean;
}

/** The minimum pooled count of a class's distances to enter the pool (reference code). */
const MIN_PER_CLASS = 10;
const OUTLIER_SIGMAS = 3;

interface ClassSet {
  /** Pool slots of the class's rows, oldest first. */
  slots: number[];
  threshold: number;
  /** Running sums over the distances with which members joined (the seed's 0 included). */
  joined: number;
  sum: number;
  sumSq: number;
}

export class PradaMonitor {
  readonly delta: number;
  readonly minDistances: number;
  readonly every: number;
  readonly maxRows: number;
  readonly maxDistances: number;
  readonly inputSize: number;
  private readonly sets = new Map<number, ClassSet>();
  /** One pool of rows for all classes, grown by doubling up to the cap; freed slots are reused. */
  private rows = new Float32Array(0);
  private fresh = 0;
  private readonly free: number[] = [];
  private totalRows = 0;
  /** Ring buffer of the distance window, grown by doubling up to maxDistances (oldest at distStart). */
  private dist = new Float64Array(0);
  private distClass = new Int32Array(0);
  private distStart = 0;
  private distCount = 0;
  private readonly perClass = new Map<number, number>();
  private n = 0;
  private lastW: number | null = null;
  private flagged = false;

  constructor(opts: PradaOptions, inputSize: number) {
    this.delta = opts.delta;
    this.minDistances = opts.minDistances ?? 100;
    this.every = opts.every ?? 10;
    this.maxRows = opts.maxRowsPerClient ?? 500;
    this.maxDistances = opts.maxDistances ?? SHAPIRO_WILK_MAX_N;
    this.inputSize = inputSize;
    const bad: string[] = [];
    if (!(this.delta > 0 && this.delta <= 1)) bad.push(`delta ${this.delta} is not in (0, 1]`);
    if (!Number.isInteger(this.minDistances) || this.minDistances < 2) bad.push("minDistances must be an integer ≥ 2");
    if (!Number.isInteger(this.every) || this.every < 1) bad.push("every must be an integer ≥ 1");
    if (!Number.isInteger(this.maxRows) || this.maxRows < 1) bad.push("maxRowsPerClient must be an integer ≥ 1");
    if (!Number.isInteger(this.maxDistances) || this.maxDistances <= this.minDistances) {
      bad.push("maxDistances must be an integer above minDistances");
    }
    if (this.maxDistances > SHAPIRO_WILK_MAX_N) bad.push(`maxDistances must be ≤ ${SHAPIRO_WILK_MAX_N}`);
    if (!Number.isInteger(inputSize) || inputSize < 1) bad.push("inputSize must be a positive integer");
    if (bad.length > 0) throw new ProvmarkError("USAGE", `invalid PRADA options: ${bad.join("; ")}`);
  }

  get queries(): number {
    return this.n;
  }

  /** Records one answered query (model-space input, the class the model predicted) and tests when due. */
  observe(x: Float32Array, predicted: number): PradaObservation {
    if (x.length !== this.inputSize) {
      throw new ProvmarkError("USAGE", `PRADA got an input of ${x.length} values, the monitor takes ${this.inputSize}`);
    }
    if (!Number.isInteger(predicted) || predicted < 0 || predicted > 0x7fffffff) {
      throw new ProvmarkError("USAGE", `PRADA got predicted class ${predicted}, not a class index`);
    }
    // Checked before any state changes: a NaN would poison every later distance and test.
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i] as number)) throw new ProvmarkError("USAGE", "PRADA got an input with NaN or infinity");
    }
    this.n++;
    let set = this.sets.get(predicted);
    let distance: number | null = null;
    if (set === undefined) {
      set = { slots: [], threshold: 0, joined: 1, sum: 0, sumSq: 0 };
      this.sets.set(predicted, set);
      this.addRow(set, x);
    } else if (set.slots.length === 0) {
      // Every row of this class was evicted (a tiny cap): the query seeds the set again.
      this.addRow(set, x);
    } else {
      const d = this.minDistance(set, x);
      distance = d;
      this.pushDistance(d, predicted);
      if (d > set.threshold) {
        this.addRow(set, x);
        set.joined++;
        set.sum += d;
        set.sumSq += d * d;
        const mean = set.sum / set.joined;
        const std = Math.sqrt(Math.max(0, set.sumSq / set.joined - mean * mean));
        set.threshold = Math.max(set.threshold, mean - std);
      }
    }
    let tested = false;
    if (this.n % this.every === 0) {
      const w = this.test();
      if (w !== null) {
        tested = true;
        this.lastW = w;
        this.flagged = w < this.delta;
      }
    }
    return { queries: this.n, distance, w: this.lastW, tested, alert: this.flagged };
  }

  /** Bytes held for this client: the row pool, the distance window, and a small per-class overhead. */
  memoryBytes(): number {
    let slots = 0;
    for (const c of this.sets.values()) slots += 8 * c.slots.length + 96;
    return this.rows.byteLength + 8 * this.free.length + slots + this.dist.byteLength + this.distClass.byteLength + 256;
  }

  private minDistance(set: ClassSet, x: Float32Array): number {
    const size = this.inputSize;
    const rows = this.rows;
    let best = Number.POSITIVE_INFINITY;
    for (const slot of set.slots) {
      const off = slot * size;
      let s = 0;
      // Early exit: once the partial sum exceeds the best so far this row cannot be the nearest.
      for (let i = 0; i < size; i++) {
        const diff = (x[i] as number) - (rows[off + i] as number);
        s += diff * diff;
        if ((i & 63) === 63 && s >= best) break;
      }
      if (s < best) best = s;
    }
    return Math.sqrt(best);
  }

  private addRow(set: ClassSet, x: Float32Array): void {
    if (this.totalRows >= this.maxRows) this.evictFromLargest(set);
    let slot = this.free.pop();
    if (slot === undefined) {
      const size = this.inputSize;
      if (this.fresh === this.rows.length / size) {
        const grown = new Float32Array(Math.min(this.maxRows, Math.max(16, 2 * this.fresh)) * size);
        grown.set(this.rows);
        this.rows = grown;
      }
      slot = this.fresh++;
    }
    this.rows.set(x, slot * this.inputSize);
    set.slots.push(slot);
    this.totalRows++;
  }

  /** Ties go to the joining class itself, so equally large classes keep their share. */
  private evictFromLargest(joining: ClassSet): void {
    let largest = joining;
    for (const c of this.sets.values()) if (c.slots.length > largest.slots.length) largest = c;
    const slot = largest.slots.shift();
    if (slot === undefined) return;
    this.free.push(slot);
    this.totalRows--;
  }

  private pushDistance(d: number, c: number): void {
    let cap = this.dist.length;
    if (this.distCount === this.maxDistances) {
      const old = this.distClass[this.distStart] as number;
      this.perClass.set(old, (this.perClass.get(old) ?? 1) - 1);
      this.distStart = (this.distStart + 1) % cap;
      this.distCount--;
    } else if (this.distCount === cap) {
      const grown = Math.min(this.maxDistances, Math.max(64, 2 * cap));
      const dist = new Float64Array(grown);
      const cls = new Int32Array(grown);
      for (let k = 0; k < this.distCount; k++) {
        dist[k] = this.dist[(this.distStart + k) % cap] as number;
        cls[k] = this.distClass[(this.distStart + k) % cap] as number;
      }
      this.dist = dist;
      this.distClass = cls;
      this.distStart = 0;
      cap = grown;
    }
    const at = (this.distStart + this.distCount) % cap;
    this.dist[at] = d;
    this.distClass[at] = c;
    this.distCount++;
    this.perClass.set(c, (this.perClass.get(c) ?? 0) + 1);
  }

  /** W of the pooled distances, or null when there are too few (or all are equal). */
  private test(): number | null {
    const pool: number[] = [];
    for (let k = 0; k < this.distCount; k++) {
      const at = (this.distStart + k) % this.dist.length;
      if ((this.perClass.get(this.distClass[at] as number) ?? 0) >= MIN_PER_CLASS) pool.push(this.dist[at] as number);
    }
    if (pool.length <= this.minDistances) return null;
    let mean = 0;
    for (const v of pool) mean += v;
    mean /= pool.length;
    let ss = 0;
    for (const v of pool) ss += (v - mean) * (v - mean);
    const limit = OUTLIER_SIGMAS * Math.sqrt(ss / pool.length);
    const kept = pool.filter((v) => Math.abs(v - mean) < limit);
    if (kept.length <= this.minDistances) return null;
    // All equal (a client repeating one input, plus an outlier): no test, rather than an error.
    if (kept.every((v) => v === kept[0])) return null;
    return shapiroWilk(kept).w;
  }

  /** A JSON-safe snapshot (rows and distances as base64 of their float bytes), for `fromJSON`. */
  toJSON(): PradaState {
    const size = this.inputSize;
    const classes = [...this.sets.entries()].map(([label, c]) => {
      const rows = new Float32Array(c.slots.length * size);
      for (const [k, slot] of c.slots.entries()) rows.set(this.rows.subarray(slot * size, (slot + 1) * size), k * size);
      return { label, threshold: c.threshold, joined: c.joined, sum: c.sum, sumSq: c.sumSq, rows: b64(rows) };
    });
    const d = new Float64Array(this.distCount);
    const dc: number[] = [];
    for (let k = 0; k < this.distCount; k++) {
      const at = (this.distStart + k) % this.dist.length;
      d[k] = this.dist[at] as number;
      dc.push(this.distClass[at] as number);
    }
    return {
      version: 1,
      inputSize: this.inputSize,
      options: {
        delta: this.delta,
        minDistances: this.minDistances,
        every: this.every,
        maxRowsPerClient: this.maxRows,
        maxDistances: this.maxDistances,
      },
      queries: this.n,
      w: this.lastW,
      alert: this.flagged,
      classes,
      distances: b64(d),
      distanceClasses: dc,
    };
  }

  /**
   * Restores a monitor from `toJSON`'s output. `opts` overrides the saved options (a new δ applies to
   * the next test); a snapshot that does not fit them (more rows or distances than the caps) is refused.
   */
  static fromJSON(json: unknown, opts?: Partial<PradaOptions>): PradaMonitor {
    const parsed = pradaStateSchema.safeParse(json);
    if (!parsed.success) {
      throw new ProvmarkError("USAGE", `not a PRADA monitor state: ${parsed.error.issues[0]?.message ?? "invalid"}`);
    }
    const st = parsed.data;
    const m = new PradaMonitor({ ...st.options, ...opts }, st.inputSize);
    const d = fromB64(st.distances, 8);
    if (d.length / 8 !== st.distanceClasses.length || st.distanceClasses.length > m.maxDistances) {
      throw new ProvmarkError("USAGE", "PRADA monitor state: distances do not match their classes or the window");
    }
    const dv = new Float64Array(d.buffer, d.byteOffset, d.length / 8);
    for (const [k, c] of st.distanceClasses.entries()) m.pushDistance(dv[k] as number, c);
    for (const c of st.classes) {
      const bytes = fromB64(c.rows, 4 * st.inputSize);
      const count = bytes.length / (4 * st.inputSize);
      if (m.totalRows + count > m.maxRows) throw new ProvmarkError("USAGE", "PRADA monitor state holds too many rows");
      const rows = new Float32Array(bytes.buffer, bytes.byteOffset, count * st.inputSize);
      const set: ClassSet = { slots: [], threshold: c.threshold, joined: c.joined, sum: c.sum, sumSq: c.sumSq };
      m.sets.set(c.label, set);
      for (let k = 0; k < count; k++) m.addRow(set, rows.subarray(k * st.inputSize, (k + 1) * st.inputSize));
    }
    m.n = st.queries;
    m.lastW = st.w;
    m.flagged = st.w !== null && st.w < m.delta;
    return m;
  }
}

const b64Schema = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, "base64");
const pradaStateSchema = z.object({
  version: z.literal(1),
  inputSize: z.number().int().positive(),
  options: z.object({
    delta: z.number(),
    minDistances: z.number().int(),
    every: z.number().int(),
    maxRowsPerClient: z.number().int(),
    maxDistances: z.number().int(),
  }),
  queries: z.number().int().nonnegative(),
  w: z.number().nullable(),
  alert: z.boolean(),
  classes: z.array(
    z.object({
      label: z.number().int().nonnegative().max(0x7fffffff),
      threshold: z.number().finite(),
      joined: z.number().int().positive(),
      sum: z.number().finite(),
      sumSq: z.number().finite(),
      rows: b64Schema,
    }),
  ),
  distances: b64Schema,
  distanceClasses: z.array(z.number().int().nonnegative().max(0x7fffffff)),
});
export type PradaState = z.infer<typeof pradaStateSchema>;

function b64(a: Float32Array | Float64Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
}

function fromB64(s: string, unit: number): Uint8Array {
  const b = Uint8Array.from(Buffer.from(s, "base64"));
  if (b.length % unit !== 0) throw new ProvmarkError("USAGE", "PRADA monitor state: a float array is truncated");
  return b;
}
