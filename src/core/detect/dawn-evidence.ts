import { z } from "zod";
import { modelIOSchema } from "../input/model-io.js";
import { type DetectDecision, decideDetection, type TriggerOutcome } from "./detect-verdict.js";
import { responseMetaSchema } from "./evidence.js";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const DAWN_EVIDENCE_SCHEMA = "provmark/evidence-dawn/v1";

/** What a DAWN report says of its altered labels: they are the owner's claim, not re-derivable. */
export const DAWN_CLAIM_NOTE =
  "The altered labels are the owner's claim: a verifier cannot re-derive them without the owner's key. " +
  "They are bound by the DAWN log's SHA-256 recorded here (and by the guard's audit log, when anchored on chain); " +
  "answers, match counts and the p-value are re-checked from the stored bodies.";

const decisionSchema = z.object({
  verdict: z.enum(["stolen", "not-detected", "inconclusive"]),
  n: z.number().int(),
  matches: z.number().int(),
  failures: z.number().int(),
  planned: z.number().int(),
  pValue: z.number(),
  log10PValue: z.number(),
  alpha: z.number(),
  multiplicity: z.number().int().min(1),
  method: z.string(),
  empirical: z.null(),
  reason: z.string().nullable(),
});

const dawnQuerySchema = z.object({
  id: z.string(),
  kind: z.enum(["watermark", "decoy"]),
  client: z.string().nullable(),
  /** The DAWN log record the query replays (watermark queries only). */
  seq: z.number().int().nullable(),
  inputSha256: hex64.nullable(),
  /** SHA-256 of the byte image sent (the logged row through fromModelInput). */
  pixelsSha256: hex64,
  /** The altered label the guard served for this input (the owner's claim). */
  expected: z.number().int().nullable(),
  nullProbability: z.number().min(0).max(1).nullable(),
  got: z.number().int().nullable(),
  failure: z.string().nullable(),
  requestSha256: hex64.nullable(),
  responseSha256: hex64.nullable(),
  status: z.number().int().nullable(),
  startedAt: z.string().nullable(),
  batchPosition: z.number().int().nullable(),
  batchSize: z.number().int().nullable(),
  response: responseMetaSchema.nullable(),
});
export type DawnEvidenceQuery = z.infer<typeof dawnQuerySchema>;

export const dawnEvidenceSchema = z.object({
  schema: z.literal(DAWN_EVIDENCE_SCHEMA),
  kind: z.literal("dawn"),
  tool: z.string(),
  createdAt: z.string(),
  run: z.object({ id: z.string(), startedAt: z.string(), finishedAt: z.string(), complete: z.boolean() }),
  log: z.object({
    sha256: hex64,
    createdAt: z.string(),
    keyCommitment: hex64,
    rate: z.number(),
    modelIO: modelIOSchema,
    records: z.number().int().min(0),
    /** --client, or null: every client with records was tested (Bonferroni over them). */
    clientFilter: z.string().nullable(),
    /** Records dropped because their client had already logged the same input hash. */
    duplicates: z.number().int().min(0),
  }),
  claim: z.string(),
  suspect: z.object({
    protocol: z.enum(["tfserving", "kserve", "json", "raw", "local", "url"]),
    encoding: z.enum(["tensor", "png", "jpeg"]),
    target: z.string(),
    modelName: z.string().nullable(),
    responseConfig: z.unknown().nullable(),
  }),
  queries: z.array(dawnQuerySchema),
  clients: z.array(z.object({ client: z.string(), decision: decisionSchema })),
  result: decisionSchema.extend({ client: z.string().nullable(), clients: z.number().int().min(0) }),
  warnings: z.array(z.string()),
  settings: z.object({ maxFailureFraction: z.number(), decoyRatio: z.number() }),
  stats: z.object({
    requests: z.number().int(),
    retries: z.number().int(),
    seconds: z.number(),
    decoys: z.number().int(),
    failuresByKind: z.record(z.string(), z.number().int()),
  }),
});
export type DawnEvidenceReport = z.infer<typeof dawnEvidenceSchema>;

export type DawnDecision = z.infer<typeof decisionSchema>;

export interface DawnClientDecision {
  client: string;
  decision: DawnDecision;
}

/** No reference models in a DAWN test: the exact null is the test. */
const dawnDecision = (d: DetectDecision): DawnDecision => ({ ...d, empirical: null });

export type DawnResult = DawnEvidenceReport["result"];

/**
 * The DAWN verdict: each client's replayed inputs are one exact test (matches with the altered
 * labels, failures as mismatches, null 1/(C−1) per distinct input), Bonferroni-corrected over the
 * clients tested. A surrogate distils one client's answers (or a few sybils'): pooling would dilute
 * its matches with the unrelated clients' never-seen labels, while the correction costs log10(K).
 * The result is the client with the smallest p; "stolen" if any client's test says so.
 */
export function decideDawn(
  perClient: ReadonlyMap<string, readonly TriggerOutcome[]>,
  o: { alpha: number; maxFailureFraction: number; complete: boolean },
): { clients: DawnClientDecision[]; result: DawnResult } {
  const k = perClient.size;
  const clients = [...perClient].map(([client, outcomes]) => ({
    client,
    decision: dawnDecision(decideDetection(outcomes, { ...o, multiplicity: Math.max(1, k) })),
  }));
  let best: DawnClientDecision | undefined;
  for (const c of clients) if (!best || c.decision.log10PValue < best.decision.log10PValue) best = c;
  if (!best) {
    const empty = dawnDecision(decideDetection([], { ...o }));
    return { clients, result: { ...empty, client: null, clients: 0 } };
  }
  const verdicts = new Set(clients.map((c) => c.decision.verdict));
  const verdict = verdicts.has("stolen") ? "stolen" : verdicts.has("inconclusive") ? "inconclusive" : "not-detected";
  const why =
    verdict === best.decision.verdict
      ? best.decision.reason
      : clients.find((c) => c.decision.verdict === verdict)?.decision.reason;
  return {
    clients,
    result: { ...best.decision, verdict, reason: why ?? null, client: best.client, clients: k },
  };
}

/**
 * Each client's watermark queries as test outcomes, the detector's and the verifier's one reading:
 * the null probability is 1/(C−1) from the log's class count, never a number the report carries.
 */
export function dawnOutcomes(
  queries: readonly Pick<DawnEvidenceQuery, "kind" | "client" | "expected" | "got">[],
  classes: number,
): Map<string, TriggerOutcome[]> {
  const out = new Map<string, TriggerOutcome[]>();
  for (const q of queries) {
    if (q.kind !== "watermark" || q.client === null || q.expected === null) continue;
    const list = out.get(q.client) ?? [];
    list.push({ index: list.length, expected: q.expected, got: q.got, nullProbability: 1 / (classes - 1) });
    out.set(q.client, list);
  }
  return out;
}
