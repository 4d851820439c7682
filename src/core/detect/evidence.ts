import { z } from "zod";
import { canonicalHash } from "../canonical-json.js";
import { certificateSchema } from "../watermark/certificate.js";
import { checkReveal, revealSchema } from "../watermark/reveal.js";
import { type DetectDecision, decideDetection, type TriggerOutcome } from "./detect-verdict.js";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const EVIDENCE_SCHEMA = "provmark/evidence/v1";

const querySchema = z.object({
  id: z.string(),
  kind: z.enum(["trigger", "decoy"]),
  /** Index into the key's trigger set (triggers only). */
  trigger: z.number().int().nullable(),
  expected: z.number().int().nullable(),
  got: z.number().int().nullable(),
  failure: z.string().nullable(),
  requestSha256: hex64.nullable(),
  responseSha256: hex64.nullable(),
  status: z.number().int().nullable(),
  startedAt: z.string().nullable(),
  /** Position of this query in its request's batch, and that batch's size. */
  batchPosition: z.number().int().nullable(),
  batchSize: z.number().int().nullable(),
  /**
   * How the response came: the body is stored and hashed as received, so its Content-Encoding is
   * undone before it is parsed; Date, Server and Content-Type as the suspect sent them; why the body
   * was withheld (it echoed a credential). Absent in reports of earlier versions (bodies stored decoded).
   */
  response: z
    .object({
      encoding: z.string().nullable(),
      headers: z.object({
        date: z.string().nullable(),
        server: z.string().nullable(),
        contentType: z.string().nullable(),
      }),
      withheld: z.string().optional(),
    })
    .nullable()
    .optional(),
});
export type EvidenceQuery = z.infer<typeof querySchema>;

export const evidenceSchema = z.object({
  schema: z.literal(EVIDENCE_SCHEMA),
  tool: z.string(),
  createdAt: z.string(),
  run: z.object({
    id: z.string(),
    runSeed: z.string(),
    startedAt: z.string(),
    finishedAt: z.string(),
    complete: z.boolean(),
  }),
  suspect: z.object({
    protocol: z.enum(["tfserving", "kserve", "json", "local"]),
    target: z.string(),
    modelName: z.string().nullable(),
    /** Generic JSON APIs: the response part of the config (no headers, no secrets), to re-parse answers. */
    responseConfig: z.unknown().nullable(),
  }),
  certificate: z.object({ hash: hex64, document: certificateSchema }),
  onChain: z
    .object({
      chainId: z.string(),
      contract: z.string(),
      rpc: z.string(),
      digest: hex64,
      registeredAt: z.string(),
      registrant: z.string(),
      txHash: z.string(),
      blockNumber: z.number().int(),
      manifestCid: z.string(),
    })
    .nullable(),
  reveal: revealSchema,
  queries: z.array(querySchema),
  result: z.object({
    verdict: z.enum(["stolen", "not-detected", "inconclusive"]),
    n: z.number().int(),
    matches: z.number().int(),
    failures: z.number().int(),
    planned: z.number().int(),
    pValue: z.number(),
    log10PValue: z.number(),
    alpha: z.number(),
    method: z.string(),
    empirical: z.object({ pValue: z.number(), referenceMatches: z.array(z.number().int()) }).nullable(),
    reason: z.string().nullable(),
  }),
  settings: z.object({ maxFailureFraction: z.number(), decoyRatio: z.number(), subset: z.number().int() }),
  stats: z.object({
    requests: z.number().int(),
    retries: z.number().int(),
    seconds: z.number(),
    decoys: z.number().int(),
    failuresByKind: z.record(z.string(), z.number().int()),
  }),
});
export type EvidenceReport = z.infer<typeof evidenceSchema>;

/** The per-trigger outcomes a report claims, with the certificate's null probabilities. */
export function outcomesOf(report: EvidenceReport): TriggerOutcome[] {
  const nulls = report.certificate.document.triggerSet.nullMatchProbability;
  const family = new Map(report.reveal.triggers.map((t) => [t.index, t.family]));
  return report.queries
    .filter((q) => q.kind === "trigger")
    .map((q) => ({
      index: q.trigger ?? -1,
      expected: q.expected ?? -1,
      got: q.got,
      nullProbability: nulls[family.get(q.trigger ?? -1) ?? "noise"],
    }));
}

export interface RecheckIo {
  /** The stored body with this SHA-256, or null when it is not in the evidence. */
  body(sha256: string): Uint8Array | null;
  /** SHA-256 (hex) of bytes. */
  sha256(bytes: Uint8Array): string;
  /** Labels a protocol's response body yields for a batch of `size` (null per unreadable item). */
  parseResponse(body: Uint8Array, size: number): (number | null)[];
  /** The pixels (scaled as sent) of instance `position` of a request body, or null if the protocol can't tell. */
  requestInstance(body: Uint8Array, position: number): Float32Array | null;
}

export interface RecheckResult {
  ok: boolean;
  checks: { name: string; ok: boolean; detail: string }[];
  recomputed: DetectDecision;
}

/**
 * Re-checks an evidence report without the secret key: the certificate hash, every revealed trigger's
 * Merkle proof, that each trigger query used a revealed trigger with its committed label, every
 * stored body against its hash, each answer re-read from its response body, each trigger actually
 * sent in its request, and the verdict and p-value recomputed from the answers.
 */
export function recheckEvidence(report: EvidenceReport, io: RecheckIo): RecheckResult {
  const checks: RecheckResult["checks"] = [];
  const add = (name: string, problems: string[], total: number) =>
    checks.push({
      name,
      ok: problems.length === 0,
      detail:
        problems.length === 0
          ? `${total} checked`
          : `${problems.length} problem(s): ${problems.slice(0, 3).join("; ")}`,
    });

  const certHash = canonicalHash(report.certificate.document);
  add("certificate hash", certHash === report.certificate.hash ? [] : [`document hashes to ${certHash}`], 1);
  const reveal = checkReveal(report.reveal, report.certificate.document);
  add("revealed triggers' Merkle proofs", reveal.failures, reveal.checked);

  const revealed = new Map(report.reveal.triggers.map((t) => [t.index, t]));
  const triggerQueries = report.queries.filter((q) => q.kind === "trigger");
  add(
    "trigger queries use revealed triggers and their committed labels",
    triggerQueries.flatMap((q) => {
      const t = revealed.get(q.trigger ?? -1);
      if (!t) return [`${q.id}: trigger ${q.trigger} is not revealed`];
      return t.label === q.expected ? [] : [`${q.id}: expected ${q.expected}, the commitment says ${t.label}`];
    }),
    triggerQueries.length,
  );

  const bodyProblems: string[] = [];
  const answerProblems: string[] = [];
  const sentProblems: string[] = [];
  let sentChecked = 0;
  for (const q of report.queries) {
    if (q.requestSha256 === null) continue;
    const req = io.body(q.requestSha256);
    const res = q.responseSha256 === null ? null : io.body(q.responseSha256);
    if (!req || io.sha256(req) !== q.requestSha256) bodyProblems.push(`${q.id}: request body missing or altered`);
    if (q.responseSha256 !== null && (!res || io.sha256(res) !== q.responseSha256)) {
      bodyProblems.push(`${q.id}: response body missing or altered`);
    }
    if (res && q.batchPosition !== null && q.batchSize !== null && q.got !== null) {
      const labels = io.parseResponse(res, q.batchSize);
      if (labels[q.batchPosition] !== q.got) {
        answerProblems.push(`${q.id}: the response says ${labels[q.batchPosition]}, the report ${q.got}`);
      }
    }
    if (req && q.kind === "trigger" && q.batchPosition !== null) {
      const sent = io.requestInstance(req, q.batchPosition);
      const t = revealed.get(q.trigger ?? -1);
      if (sent && t) {
        sentChecked++;
        const px = Buffer.from(t.pixels, "base64");
        const same = sent.length === px.length && sent.every((v, i) => Math.abs(v - (px[i] as number) / 255) < 1e-5);
        if (!same) sentProblems.push(`${q.id}: the request did not carry trigger ${t.index}`);
      }
    }
  }
  add("request/response bodies match their SHA-256", bodyProblems, report.queries.length);
  add("answers re-read from the response bodies", answerProblems, report.queries.filter((q) => q.got !== null).length);
  add("trigger inputs found in the requests", sentProblems, sentChecked);

  const recomputed = decideDetection(outcomesOf(report), {
    alpha: report.result.alpha,
    maxFailureFraction: report.settings.maxFailureFraction,
    ...(report.result.empirical ? { referenceMatches: report.result.empirical.referenceMatches } : {}),
  });
  const r = report.result;
  const same =
    recomputed.verdict === r.verdict &&
    recomputed.matches === r.matches &&
    recomputed.n === r.n &&
    Math.abs(recomputed.log10PValue - r.log10PValue) <= 1e-9 * Math.max(1, Math.abs(r.log10PValue));
  add(
    "verdict and p-value recomputed",
    same
      ? []
      : [
          `recomputed ${recomputed.verdict}, ${recomputed.matches}/${recomputed.n}, log10 p ${recomputed.log10PValue}; the report says ${r.verdict}, ${r.matches}/${r.n}, ${r.log10PValue}`,
        ],
    1,
  );
  return { ok: checks.every((c) => c.ok), checks, recomputed };
}
