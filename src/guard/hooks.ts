/**
 * The guard's extension points: the extraction monitor and DAWN plug in here (src/core/guard/).
 * The guard calls `before` once a client is authenticated, `after` once the upstream answered a
 * prediction, and `alerts` for `GET /provmark/alerts`.
 */
export interface GuardClient {
  id: string;
  name: string;
  role: "client" | "auditor" | "admin";
}
export interface AnswerRow {
  label: number;
  scores?: number[];
}
export interface PredictionExchange {
  client: GuardClient;
  protocol: "tfserving" | "kserve" | "json" | "raw";
  /** One row per instance in the model's input space (preprocessed floats), or null when the guard cannot decode them. */
  inputs: Float32Array[] | null;
  answers: AnswerRow[];
}
export interface HookDecision {
  answers?: AnswerRow[];
  block?: string;
  delayMs?: number;
  note?: string;
}
export interface GuardHooks {
  /** Before forwarding: refuse (blocked client) or delay (throttled). */
  before?(client: GuardClient): HookDecision | Promise<HookDecision>;
  /** After the upstream answered: may replace answers (re-encoded in the protocol's response format, keeping everything else of the body), block, or delay. */
  after?(x: PredictionExchange): HookDecision | Promise<HookDecision>;
  /** Extra routes for auditors, e.g. alerts: return undefined when not handled. */
  alerts?(): unknown[];
}
