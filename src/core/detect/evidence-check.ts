import { sha256 } from "@noble/hashes/sha2.js";
import { canonicalHash } from "../canonical-json.js";
import { toHex } from "../digest/bytes.js";
import { type InputSpec, toModelInput } from "../input/model-io.js";
import { type CertificateV1, certificateIO, triggerSetSpecOfCertificate } from "../watermark/certificate.js";
import { checkReveal, type Reveal } from "../watermark/reveal.js";
import { checkRevealV2, type RevealV2 } from "../watermark/reveal-v2.js";
import { blocksPerOrder, blockTriggers, familyAt, orderIndexOf } from "../watermark/trigger-derivation.js";
import { type DetectDecision, decideDetection, type TriggerOutcome } from "./detect-verdict.js";
import type { EvidenceQuery, EvidenceReport } from "./evidence.js";
import { planQueries } from "./plan.js";

/** What the verifier decides itself; nothing here is read from the report. */
export interface VerifierPolicy {
  /** Significance level (default 1e-6); a report that used another one is flagged. */
  alpha: number;
  /** Above this fraction of failed trigger queries a run cannot support "not-detected". */
  maxFailureFraction: number;
  /**
   * Accept a v1 certificate's labels as evidence (a warning instead of a failure). v1 labels are
   * committed by a Merkle root only: whoever made the certificate could have chosen them after
   * seeing a model's answers (framing), so by default a v1 report cannot be VALID.
   */
  acceptV1?: boolean;
  /**
   * Plan hashes of runs against this certificate and suspect the verifier found elsewhere (anchored
   * on chain): with the report's committed plans they set the Bonferroni factor.
   */
  knownPlans?: readonly string[];
}

export const DEFAULT_VERIFIER_POLICY: VerifierPolicy = { alpha: 1e-6, maxFailureFraction: 0.1 };

/**
 * One instance of a request body, as far as the protocol lets the verifier read it back: numbers,
 * an input hash (local runs), or the pixels of an encoded image, decoded by the caller (the core
 * decodes no image formats). `lossy` images (JPEG) cannot be compared exactly.
 */
export type SentInstance =
  | { values: Float32Array; scale?: "model" | "pixel/255" | "pixel" }
  | { sha256: string }
  | { pixels: Uint8Array; lossy: boolean }
  | null;

/**
 * Largest mean absolute pixel difference (0–255) at which a lossy request image still counts as
 * its trigger. JPEG at quality 90 leaves the triggers within about 6 (noise, the worst case; see
 * docs/detect-protocols.md); another image differs by far more (about 85 between two noise images).
 */
export const LOSSY_PIXEL_TOLERANCE = 16;

export interface RecheckIo {
  /** The stored body with this SHA-256, or null when it is not in the evidence. */
  body(sha256: string): Uint8Array | null;
  /** SHA-256 (hex) of bytes: the adapter's (node:crypto is ~10× faster than pure JS on 4,000 bodies). */
  sha256?(bytes: Uint8Array): string;
  /** Labels a protocol's response body yields for a batch of `size` (null per unreadable item). */
  parseResponse(body: Uint8Array, size: number): (number | null)[];
  /** Instance `position` of a request body, or null when the protocol cannot be read back. */
  requestInstance(body: Uint8Array, position: number): SentInstance;
}

export type CheckStatus = "pass" | "fail" | "warn";
export interface EvidenceCheck {
  name: string;
  status: CheckStatus;
  /** What the check covered and, when it could not cover something, what and why. */
  detail: string;
}

export interface RecheckResult {
  ok: boolean;
  checks: EvidenceCheck[];
  /** The verdict the verifier derives from the bodies, under its own policy. */
  recomputed: DetectDecision;
  /** Caveats that hold even when every check passes (v1 certificates, local suspects). */
  caveats: string[];
}

const TRANSPORT_FAILURES = new Set(["timeout", "network"]);

/**
 * Re-checks an evidence report without the secret key, trusting none of its numbers: the certificate
 * and plan hashes, every VRF proof (v2) or Merkle proof (v1), that the queried triggers are exactly
 * the plan's (v2: the committed block; v1: the seed's subset) and each appears once, every label
 * recomputed, every sent query's bodies present and matching their hashes, every answer and every
 * claimed failure re-read from the response body, every trigger found in its request, and the
 * verdict recomputed with the verifier's α, null probabilities from the class count and a Bonferroni
 * factor over the committed runs.
 */
export function recheckEvidence(report: EvidenceReport, io: RecheckIo, policy: VerifierPolicy): RecheckResult {
  const checks: EvidenceCheck[] = [];
  const caveats: string[] = [];
  const add = (name: string, problems: string[], covered: string, status: CheckStatus = "fail") =>
    checks.push({
      name,
      status: problems.length === 0 ? "pass" : status,
      detail: problems.length === 0 ? covered : `${problems.length} problem(s): ${problems.slice(0, 4).join("; ")}`,
    });
  const cert = report.certificate.document;
  const certHash = canonicalHash(cert);
  add(
    "certificate hash",
    certHash === report.certificate.hash
      ? []
      : [`the document hashes to ${certHash}, the report says ${report.certificate.hash}`],
    "the certificate document hashes to the cited hash",
  );
  const planProblems: string[] = [];
  if (canonicalHash(report.plan) !== report.planHash)
    planProblems.push("the plan does not hash to the report's plan hash");
  if (report.plan.certificateHash !== certHash) planProblems.push("the plan names another certificate");
  if (
    report.plan.suspect.target !== report.suspect.target ||
    report.plan.suspect.protocol !== report.suspect.protocol
  ) {
    planProblems.push("the plan names another suspect");
  }
  if (!report.committedPlans.some((p) => p.planHash === report.planHash)) {
    planProblems.push("the run's own plan is missing from the committed plans");
  }
  if (new Set(report.committedPlans.map((p) => p.planHash)).size !== report.committedPlans.length) {
    planProblems.push("a committed plan is listed twice");
  }
  add("run plan", planProblems, `plan ${report.planHash.slice(0, 16)}… binds this certificate and suspect`);

  const ioSpec = certificateIO(cert);
  const classes = ioSpec.classes.count;
  // Triggers recomputed from the reveal (v2) or taken from their Merkle-proved commitment (v1).
  const triggers = new Map<number, { input: Uint8Array | Float32Array; label: number; nullProbability: number }>();
  let expectedTriggers: number[] = [];
  let multiplicity = Math.max(
    1,
    new Set([...report.committedPlans.map((p) => p.planHash), ...(policy.knownPlans ?? [])]).size,
  );
  if (cert.schema === "provmark/certificate/v2") {
    if (report.reveal.schema !== "provmark/reveal/v2") {
      add("reveal", ["a v2 certificate needs a v2 reveal (VRF proofs)"], "");
    } else {
      const r = checkRevealV2(report.reveal as RevealV2, cert);
      add("VRF proofs of the revealed triggers and run order", r.failures, r.covered.join("; "));
      for (const [i, t] of r.triggers)
        triggers.set(i, { input: t.input, label: t.label, nullProbability: 1 / classes });
      const spec = triggerSetSpecOfCertificate(cert);
      const block = report.plan.block;
      const blockProblems: string[] = [];
      if (block === null) {
        blockProblems.push("a v2 run must name its block");
      } else {
        const order = r.orders.get(orderIndexOf(spec, block));
        if (!order) {
          blockProblems.push(`the proof of run order ${orderIndexOf(spec, block)} is missing or invalid`);
        } else {
          expectedTriggers = blockTriggers(spec, order, block);
          if (canonicalHash(expectedTriggers) !== canonicalHash(report.plan.triggers)) {
            blockProblems.push(`the plan's triggers are not block ${block} of the committed run order`);
          }
        }
        multiplicity = Math.max(multiplicity, block + 1);
      }
      add(
        "triggers are the committed run block",
        blockProblems,
        `block ${block} (${blocksPerOrder(spec)} block(s) of ${spec.runSize} per order): Bonferroni factor ${multiplicity}`,
      );
    }
  } else {
    add(
      "trigger labels provably fixed at release",
      [
        "v1 certificate: its labels are committed by a Merkle root only, so its maker could have chosen them after seeing the suspect's answers, and the run's subset was the owner's choice (v2 certificates rule both out)",
      ],
      "",
      policy.acceptV1 ? "warn" : "fail",
    );
    if (report.reveal.schema !== "provmark/reveal/v1") {
      add("reveal", ["a v1 certificate needs a v1 reveal (Merkle proofs)"], "");
    } else {
      const r = checkReveal(report.reveal as Reveal, cert as CertificateV1);
      add(
        "revealed triggers' Merkle proofs",
        r.failures,
        `${r.checked} Merkle proof(s) lead to the certificate's root`,
      );
      const C = classes;
      for (const t of (report.reveal as Reveal).triggers) {
        const family = familyAt({ family: cert.triggerSet.family, count: cert.triggerSet.count }, t.index);
        triggers.set(t.index, {
          input: Uint8Array.from(Buffer.from(t.pixels, "base64")),
          label: t.label,
          nullProbability: family === "noise" ? 1 / C : 1 / (C - 1),
        });
      }
      expectedTriggers = planQueries({
        triggerCount: cert.triggerSet.count,
        subset: report.plan.triggers.length,
        decoyCount: report.plan.decoyCount,
        decoyRatio: report.plan.decoyRatio,
        runSeed: report.plan.runSeed,
      }).triggers;
      add(
        "triggers are the seed's subset",
        canonicalHash(expectedTriggers) === canonicalHash(report.plan.triggers)
          ? []
          : ["the plan's triggers are not the subset its seed draws"],
        `${expectedTriggers.length} trigger(s) re-drawn from the run seed`,
      );
    }
  }

  const plan = planQueries({
    triggerCount: report.plan.triggerCount,
    subset: report.plan.triggers.length,
    decoyCount: report.plan.decoyCount,
    decoyRatio: report.plan.decoyRatio,
    runSeed: report.plan.runSeed,
    ...(cert.schema === "provmark/certificate/v2" ? { triggers: report.plan.triggers } : {}),
  });
  const rows = new Map<string, EvidenceQuery>();
  const rowProblems: string[] = [];
  for (const q of report.queries) {
    if (rows.has(q.id)) rowProblems.push(`${q.id} appears twice`);
    rows.set(q.id, q);
  }
  for (const pq of plan.queries) {
    const q = rows.get(pq.id);
    if (!q) rowProblems.push(`${pq.id} is planned but missing`);
    else if (q.kind !== pq.kind || (pq.kind === "trigger" && q.trigger !== pq.trigger)) {
      rowProblems.push(`${pq.id} is not the planned ${pq.kind}${pq.kind === "trigger" ? ` ${pq.trigger}` : ""}`);
    }
  }
  if (report.queries.length !== plan.queries.length) {
    rowProblems.push(`${report.queries.length} rows for ${plan.queries.length} planned queries`);
  }
  add("queries re-derived from the plan", rowProblems, `${plan.queries.length} queries, each planned exactly once`);

  const labelProblems: string[] = [];
  for (const q of report.queries) {
    if (q.kind !== "trigger") continue;
    const t = triggers.get(q.trigger ?? -1);
    if (!t) labelProblems.push(`${q.id}: trigger ${q.trigger} is not revealed`);
    else if (t.label !== q.expected) labelProblems.push(`${q.id}: expected ${q.expected}, the key fixes ${t.label}`);
  }
  add("trigger labels recomputed", labelProblems, "every trigger row's expected label is the one the key fixes");

  const answers = recheckBodies(report, io, triggers, ioSpec.input);
  for (const c of answers.checks) checks.push(c);
  if (report.suspect.protocol === "local") {
    caveats.push(
      "local suspect: the answers come from a model file the reporter ran, not from a third party's endpoint",
    );
  }
  if (report.suspect.protocol === "url") {
    caveats.push(
      "url suspect: the answers come from the fetched model run by the reporter; the files are in the report, and the HTTP records say where they came from",
    );
  }

  const outcomes: TriggerOutcome[] = plan.triggers.map((i) => {
    const row = report.queries.find((q) => q.kind === "trigger" && q.trigger === i);
    const t = triggers.get(i);
    return {
      index: i,
      expected: t?.label ?? -1,
      got: row ? (answers.labels.get(row.id) ?? null) : null,
      nullProbability: t?.nullProbability ?? 1,
    };
  });
  const recomputed = decideDetection(outcomes, {
    alpha: policy.alpha,
    maxFailureFraction: policy.maxFailureFraction,
    multiplicity,
    complete: report.run.complete,
    ...(report.result.empirical ? { referenceMatches: report.result.empirical.referenceMatches } : {}),
  });
  const r = report.result;
  add(
    "verdict recomputed from the bodies",
    recomputed.verdict === r.verdict && recomputed.matches === r.matches
      ? []
      : [
          `the bodies give ${recomputed.verdict} (${recomputed.matches}/${recomputed.planned} matches, p ${recomputed.pValue.toExponential(2)} with α ${policy.alpha}, factor ${multiplicity}); the report claims ${r.verdict} (${r.matches} matches, α ${r.alpha})`,
        ],
    `${recomputed.verdict}: ${recomputed.matches}/${recomputed.planned} triggers matched, p ${recomputed.pValue.toExponential(2)} (null 1/${classes}${cert.schema === "provmark/certificate/v1" ? " or 1/(C-1)" : ""} per trigger, failures as mismatches, Bonferroni ×${multiplicity}) at the verifier's α ${policy.alpha}`,
  );
  if (r.alpha !== policy.alpha) {
    add("α", [`the report used α = ${r.alpha}; verified at the verifier's α = ${policy.alpha}`], "", "warn");
  }
  return { ok: checks.every((c) => c.status !== "fail"), checks, recomputed, caveats };
}

/** Bodies, answers, claimed failures and sent inputs, row by row; returns the labels the bodies give. */
function recheckBodies(
  report: EvidenceReport,
  io: RecheckIo,
  triggers: Map<number, { input: Uint8Array | Float32Array }>,
  input: InputSpec,
): { checks: EvidenceCheck[]; labels: Map<string, number | null> } {
  const missing: string[] = [];
  const altered: string[] = [];
  const answerProblems: string[] = [];
  const sentProblems: string[] = [];
  const batchProblems: string[] = [];
  let lossyChecked = 0;
  let lossyWorst = 0;
  const labels = new Map<string, number | null>();
  const batches = new Map<
    string,
    { size: number; positions: Set<number>; response: string | null; status: number | null }
  >();
  let bodies = 0;
  let sentChecked = 0;
  const sha = io.sha256 ?? ((b: Uint8Array) => toHex(sha256(b)));
  for (const q of report.queries) {
    labels.set(q.id, null);
    if (q.failure === "not sent") {
      if (q.got !== null) answerProblems.push(`${q.id}: never sent, yet it has an answer`);
      continue;
    }
    if (q.requestSha256 === null || q.batchPosition === null || q.batchSize === null || q.startedAt === null) {
      missing.push(`${q.id}: no request hash, batch position or time`);
      continue;
    }
    if (Number.isNaN(Date.parse(q.startedAt)))
      missing.push(`${q.id}: startedAt ${JSON.stringify(q.startedAt)} is not a date`);
    const key = `${q.requestSha256}/${q.startedAt}`;
    const b = batches.get(key) ?? {
      size: q.batchSize,
      positions: new Set<number>(),
      response: q.responseSha256,
      status: q.status,
    };
    // One request, one exchange: a row cannot claim a timeout while its batch-mates got an answer.
    if (b.response !== q.responseSha256 || b.status !== q.status) {
      batchProblems.push(`${q.id}: its request's other rows record another response`);
    }
    if (
      b.size !== q.batchSize ||
      b.positions.has(q.batchPosition) ||
      q.batchPosition < 0 ||
      q.batchPosition >= q.batchSize
    ) {
      batchProblems.push(
        `${q.id}: batch position ${q.batchPosition}/${q.batchSize} clashes with its request's other rows`,
      );
    }
    b.positions.add(q.batchPosition);
    batches.set(key, b);
    const req = io.body(q.requestSha256);
    if (!req) missing.push(`${q.id}: request body ${q.requestSha256.slice(0, 12)}… is not in the evidence`);
    else if (sha(req) !== q.requestSha256) altered.push(`${q.id}: request body does not match its hash`);
    else bodies++;
    const kind = q.failure?.split(":")[0] ?? null;
    let res: Uint8Array | null = null;
    if (q.responseSha256 === null) {
      // Only a transport failure may lack a response body: anything else has bytes to show.
      if (kind === null || !TRANSPORT_FAILURES.has(kind)) missing.push(`${q.id}: no response hash`);
    } else {
      res = io.body(q.responseSha256);
      if (!res) missing.push(`${q.id}: response body ${q.responseSha256.slice(0, 12)}… is not in the evidence`);
      else if (sha(res) !== q.responseSha256) {
        altered.push(`${q.id}: response body does not match its hash`);
        res = null;
      } else bodies++;
    }
    if (res) {
      const label = io.parseResponse(res, q.batchSize)[q.batchPosition] ?? null;
      labels.set(q.id, label);
      if (label !== q.got) {
        answerProblems.push(
          q.got === null
            ? `${q.id}: reported as a failure, but the response answers ${label}`
            : `${q.id}: the response says ${label}, the report ${q.got}`,
        );
      }
    } else if (q.got !== null) {
      answerProblems.push(`${q.id}: an answer with no response body to read it from`);
    }
    if (req && q.kind === "trigger") {
      const t = triggers.get(q.trigger ?? -1);
      const sent = io.requestInstance(req, q.batchPosition);
      if (!t) continue;
      if (sent === null) {
        sentProblems.push(`${q.id}: the ${report.suspect.protocol} request cannot be read back`);
      } else if ("pixels" in sent) {
        sentChecked++;
        const want = t.input;
        if (!(want instanceof Uint8Array) || sent.pixels.length !== want.length) {
          sentProblems.push(`${q.id}: the request's image has another size than trigger ${q.trigger}`);
        } else if (!sent.lossy) {
          if (!sent.pixels.every((v, i) => v === want[i])) {
            sentProblems.push(`${q.id}: the request's image is not trigger ${q.trigger}`);
          }
        } else {
          let sum = 0;
          for (let i = 0; i < want.length; i++) sum += Math.abs((sent.pixels[i] as number) - (want[i] as number));
          const mean = sum / want.length;
          lossyChecked++;
          lossyWorst = Math.max(lossyWorst, mean);
          if (mean > LOSSY_PIXEL_TOLERANCE) {
            sentProblems.push(
              `${q.id}: the request's image differs from trigger ${q.trigger} by ${mean.toFixed(1)} per pixel on average`,
            );
          }
        }
      } else if ("sha256" in sent) {
        sentChecked++;
        if (sent.sha256 !== sha(t.input instanceof Uint8Array ? t.input : new Uint8Array(t.input.buffer))) {
          sentProblems.push(`${q.id}: the request did not carry trigger ${q.trigger}`);
        }
      } else {
        sentChecked++;
        const want =
          sent.scale === "pixel" || sent.scale === "pixel/255"
            ? Float32Array.from(t.input, (v) => (sent.scale === "pixel" ? v : v / 255))
            : toModelInput(input, t.input);
        const same =
          sent.values.length === want.length &&
          sent.values.every(
            (v, i) => Math.abs(v - (want[i] as number)) <= 1e-4 * Math.max(1, Math.abs(want[i] as number)),
          );
        if (!same) sentProblems.push(`${q.id}: the request did not carry trigger ${q.trigger}`);
      }
    }
  }
  const sentCount = report.queries.filter((q) => q.failure !== "not sent").length;
  const checks: EvidenceCheck[] = [];
  const push = (name: string, problems: string[], covered: string) =>
    checks.push({
      name,
      status: problems.length ? "fail" : "pass",
      detail: problems.length ? `${problems.length} problem(s): ${problems.slice(0, 4).join("; ")}` : covered,
    });
  push("every sent query has its bodies and hashes", missing, `${sentCount} sent queries, ${bodies} bodies present`);
  push("bodies match their SHA-256", altered, `${bodies} bodies re-hashed`);
  push("batches consistent", batchProblems, `${batches.size} requests, positions distinct`);
  push(
    "answers and failures re-read from the response bodies",
    answerProblems,
    `${report.queries.filter((q) => q.got !== null).length} answers re-read, every claimed failure confirmed by its body`,
  );
  push("trigger inputs found in the requests", sentProblems, `${sentChecked} trigger requests carried their trigger`);
  if (lossyChecked > 0) {
    checks.push({
      name: "lossy request images",
      status: "warn",
      detail: `${lossyChecked} trigger image(s) were sent lossy (JPEG): each matched its trigger only within ${LOSSY_PIXEL_TOLERANCE} per pixel on average (worst ${lossyWorst.toFixed(1)}), not exactly, and the suspect answered for those pixels`,
    });
  }
  return { checks, labels };
}
