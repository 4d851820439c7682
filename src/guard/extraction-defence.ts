/**
 * The guard's defences against extraction, plugged into its hooks: PRADA (Juuti et al. 2019) watches
 * each client's query distances and acts on an alert; DAWN (Szyller et al. 2021) answers a keyed
 * fraction of each client's queries with a wrong label and logs them, so a surrogate trained on the
 * answers can be detected later (`detect --dawn-log`). Both need the inputs as model-space rows.
 */
import { createHash } from "node:crypto";
import { dawnDecision, deriveDawnKey, rewriteAnswer } from "../core/guard/dawn.js";
import { PradaMonitor } from "../core/guard/prada.js";
import { robustInputHash } from "../core/guard/robust-hash.js";
import { inputShape, inputSize, type ModelIO } from "../core/input/model-io.js";
import type { DawnLogWriter } from "./dawn-log.js";
import type { AnswerRow, GuardClient, GuardHooks, HookDecision, PredictionExchange } from "./hooks.js";

export type AlertAction = "log" | "throttle" | "block";

export interface MonitorSettings {
  delta: number;
  action: AlertAction;
  /** throttle: delay added to each request of an alerted client. */
  throttleMs: number;
  minDistances?: number;
  every?: number;
  maxRowsPerClient?: number;
  /** POSTed a JSON alert (best effort, 5 s timeout). */
  webhook?: string;
}

export interface DawnSettings {
  /** Fraction of each client's distinct inputs answered wrongly. */
  rate: number;
  /** The owner's key seed: the HMAC key is derived from it. */
  seed: Uint8Array;
  log: DawnLogWriter;
}

export interface ExtractionAlert {
  time: string;
  client: string;
  name: string;
  queries: number;
  w: number;
  delta: number;
  action: AlertAction;
}

export interface ExtractionDefence extends GuardHooks {
  alerts(): ExtractionAlert[];
  /** Queries the monitor has seen and altered answers so far, per client id. */
  stats(): Record<string, { queries: number; altered: number; alerted: boolean; memoryBytes: number }>;
  /** Resolves once pending webhook calls ended. */
  flush(): Promise<void>;
}

const MAX_ALERTS = 10_000;

/**
 * What DAWN's decision is keyed on: the input's robust hash and the model's own answer. A coarse hash
 * has few buckets (≈ 12 bits on MNIST digits), and inputs sharing a bucket share a decision, so they
 * count once in detection; the answer splits a bucket by class, which near-duplicates (one class)
 * still share, and the count of independent decisions a thief collects grows accordingly.
 */
export function decisionHash(robust: Uint8Array, modelLabel: number): Uint8Array {
  const out = new Uint8Array(robust.length + 4);
  out.set(robust, 0);
  new DataView(out.buffer).setUint32(robust.length, modelLabel, true);
  return out;
}

export function createExtractionDefence(o: {
  io: ModelIO;
  monitor?: MonitorSettings;
  dawn?: DawnSettings;
  warn?: (line: string) => void;
  now?: () => number;
}): ExtractionDefence {
  const now = o.now ?? Date.now;
  const warn = o.warn ?? (() => {});
  const size = inputSize(o.io.input);
  const shape = inputShape(o.io.input);
  const classes = o.io.classes.count;
  const dawnKey = o.dawn ? deriveDawnKey(o.dawn.seed) : undefined;
  const clients = new Map<string, { monitor?: PradaMonitor; queries: number; altered: number; alerted: boolean }>();
  const alerts: ExtractionAlert[] = [];
  const pending = new Set<Promise<void>>();

  const stateOf = (c: GuardClient) => {
    let s = clients.get(c.id);
    if (s === undefined) {
      s = { queries: 0, altered: 0, alerted: false };
      if (o.monitor) {
        s.monitor = new PradaMonitor(
          {
            delta: o.monitor.delta,
            ...(o.monitor.minDistances === undefined ? {} : { minDistances: o.monitor.minDistances }),
            ...(o.monitor.every === undefined ? {} : { every: o.monitor.every }),
            ...(o.monitor.maxRowsPerClient === undefined ? {} : { maxRowsPerClient: o.monitor.maxRowsPerClient }),
          },
          size,
        );
      }
      clients.set(c.id, s);
    }
    return s;
  };

  const notify = (alert: ExtractionAlert) => {
    if (alerts.length >= MAX_ALERTS) alerts.shift();
    alerts.push(alert);
    const url = o.monitor?.webhook;
    if (url === undefined) return;
    const p = fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "provmark/extraction-alert", ...alert }),
      signal: AbortSignal.timeout(5_000),
    })
      .then((r) => {
        if (!r.ok) warn(`alert webhook answered HTTP ${r.status}`);
      })
      .catch((e: unknown) => warn(`alert webhook failed: ${(e as Error).message}`))
      .finally(() => pending.delete(p));
    pending.add(p);
  };

  // Rows or answers the input description does not fit (another model's key) are not monitored
  // nor altered; said once, not on every request.
  let mismatchWarned = false;
  const mismatch = (values: number, label: number) => {
    if (mismatchWarned) return;
    mismatchWarned = true;
    warn(
      `extraction defence: a request of ${values} values per instance (answer class ${label}) does not fit the key's ` +
        `input description (${size} values, ${classes} classes); such requests are neither monitored nor altered`,
    );
  };

  const before = (c: GuardClient): HookDecision => {
    const s = clients.get(c.id);
    if (!s?.alerted || !o.monitor) return {};
    if (o.monitor.action === "block") return { block: "this key is suspended: its queries look like model extraction" };
    if (o.monitor.action === "throttle") return { delayMs: o.monitor.throttleMs };
    return {};
  };

  const after = async (x: PredictionExchange): Promise<HookDecision> => {
    if (x.inputs === null || x.client.role !== "client") return {};
    const s = stateOf(x.client);
    const answers: AnswerRow[] = x.answers.map((a) => ({ ...a }));
    const notes: string[] = [];
    let changed = false;
    for (let i = 0; i < x.inputs.length && i < answers.length; i++) {
      const row = x.inputs[i] as Float32Array;
      const answer = answers[i] as AnswerRow;
      if (row.length !== size || !(answer.label >= 0 && answer.label < classes)) {
        mismatch(row.length, answer.label);
        continue;
      }
      s.queries++;
      if (s.monitor) {
        const obs = s.monitor.observe(row, answer.label);
        if (obs.alert && !s.alerted && obs.w !== null) {
          s.alerted = true;
          const alert: ExtractionAlert = {
            time: new Date(now()).toISOString(),
            client: x.client.id,
            name: x.client.name,
            queries: obs.queries,
            w: obs.w,
            delta: s.monitor.delta,
            action: o.monitor?.action ?? "log",
          };
          notify(alert);
          notes.push(`extraction alert: W ${obs.w.toFixed(4)} < δ ${alert.delta} after ${obs.queries} queries`);
        }
      }
      if (o.dawn && dawnKey) {
        const hash = decisionHash(robustInputHash(row, o.io.input), answer.label);
        const d = dawnDecision(dawnKey, x.client.id, hash, o.dawn.rate, classes, answer.label);
        if (d.altered) {
          const served = rewriteAnswer(answer.scores, answer.label, d.label);
          await o.dawn.log.append({
            client: x.client.id,
            time: new Date(now()).toISOString(),
            shape,
            input: row,
            // Records of one robust hash share one decision: the detector counts them once.
            inputSha256: createHash("sha256").update(hash).digest("hex"),
            servedLabel: d.label,
            modelLabel: answer.label,
            classes,
          });
          answers[i] = served;
          s.altered++;
          changed = true;
        }
      }
    }
    if (changed) notes.push("dawn: answers altered");
    return {
      ...(changed ? { answers } : {}),
      ...(notes.length > 0 ? { note: notes.join("; ") } : {}),
      ...(s.alerted ? before(x.client) : {}),
    };
  };

  return {
    before,
    after,
    alerts: () => alerts.slice(),
    stats: () =>
      Object.fromEntries(
        [...clients].map(([id, s]) => [
          id,
          { queries: s.queries, altered: s.altered, alerted: s.alerted, memoryBytes: s.monitor?.memoryBytes() ?? 0 },
        ]),
      ),
    flush: async () => {
      await Promise.all([...pending]);
    },
  };
}
