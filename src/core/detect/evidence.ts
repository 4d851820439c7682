import { z } from "zod";
import { certificateSchema } from "../watermark/certificate.js";
import { revealSchema } from "../watermark/reveal.js";
import { revealV2Schema } from "../watermark/reveal-v2.js";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const EVIDENCE_SCHEMA = "provmark/evidence/v2";

/**
 * A detection run's plan, committed (hashed into the journal) before the first query goes out. v2
 * certificates fix the triggers: run block b of the committed run orders; the seed only draws decoys
 * and the query order. Everything the verifier needs to re-derive the queries is here.
 */
export const runPlanSchema = z.object({
  schema: z.literal("provmark/run-plan/v2"),
  createdAt: z.string(),
  certificateHash: hex64,
  suspect: z.object({ protocol: z.string(), target: z.string(), modelName: z.string().nullable() }),
  /** v2: the run block; v1 certificates: null (the subset is drawn from the seed). */
  block: z.number().int().min(0).nullable(),
  triggers: z.array(z.number().int().min(0)),
  runSeed: z.string().regex(/^[0-9a-f]{32}$/),
  triggerCount: z.number().int().min(1),
  decoyRatio: z.number().nonnegative(),
  decoysFrom: z.string().nullable(),
  decoyCount: z.number().int().nonnegative(),
});
export type RunPlanDoc = z.infer<typeof runPlanSchema>;

/** How a stored response body came (`ResponseMeta` of the adapters), so a verifier reads it as the adapter did. */
export const responseMetaSchema = z.object({
  encoding: z.string().nullable(),
  headers: z.object({
    date: z.string().nullable(),
    server: z.string().nullable(),
    contentType: z.string().nullable(),
  }),
  withheld: z.string().optional(),
});

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
  response: responseMetaSchema.nullable().optional(),
});
export type EvidenceQuery = z.infer<typeof querySchema>;

/** One file of a suspect model fetched by URL: where it came from and its bytes' hashes. */
export const downloadedFileSchema = z.object({
  /** Its name in the downloaded model directory: model.json, or a shard path of its weightsManifest. */
  name: z.string(),
  /** The URL that answered (after same-origin redirects), without its query string. */
  url: z.string(),
  redirectedFrom: z.array(z.string()),
  status: z.number().int(),
  startedAt: z.string(),
  /** The response's Content-Encoding, undone before the file was stored; null for none. */
  encoding: z.string().nullable(),
  /** SHA-256 and length of the body exactly as received. */
  receivedSha256: hex64,
  receivedBytes: z.number().int().nonnegative(),
  /** SHA-256 and length of the file as stored (equal to the received ones without an encoding). */
  sha256: hex64,
  bytes: z.number().int().nonnegative(),
});
export type DownloadedFile = z.infer<typeof downloadedFileSchema>;

/**
 * `--protocol url`: the public model a web app ships, fetched file by file and kept in the report's
 * `suspect-model/`, with provmark's digests of it (compare `weightsDigest` with the registry's).
 */
export const downloadSchema = z.object({
  url: z.string(),
  files: z.array(downloadedFileSchema),
  weightsDigest: hex64,
  filesDigest: hex64,
});
export type SuspectDownload = z.infer<typeof downloadSchema>;

/** The white-box weight-mark test on a downloaded model, and the verdict of both tests together. */
export const whiteBoxSchema = z.object({
  weightMark: z.union([
    z.object({
      applicable: z.literal(true),
      layer: z.string(),
      bits: z.number().int().min(1),
      matches: z.number().int().min(0),
      bitErrors: z.number().int().min(0),
      pValue: z.number(),
      log10PValue: z.number(),
    }),
    z.object({ applicable: z.literal(false), layer: z.string(), reason: z.string() }),
  ]),
  /** Bonferroni over the trigger test (result) and the weight-mark test. */
  combined: z.object({
    verdict: z.enum(["stolen", "not-detected", "inconclusive"]),
    log10PValue: z.number(),
    tests: z.number().int(),
  }),
});
export type WhiteBoxResult = z.infer<typeof whiteBoxSchema>;

export const evidenceSchema = z.object({
  schema: z.literal(EVIDENCE_SCHEMA),
  tool: z.string(),
  createdAt: z.string(),
  run: z.object({
    id: z.string(),
    startedAt: z.string(),
    finishedAt: z.string(),
    complete: z.boolean(),
  }),
  plan: runPlanSchema,
  /** SHA-256 of the plan's canonical JSON, as journaled before the first query. */
  planHash: hex64,
  /**
   * Every plan committed in this run directory against the same certificate and suspect, this one
   * included: the verifier's Bonferroni factor counts them.
   */
  committedPlans: z.array(z.object({ planHash: hex64, block: z.number().int().nullable(), createdAt: z.string() })),
  /** `detect --anchor`: the plan's anchoring transaction, sent before the first query. */
  planAnchor: z
    .object({
      chainId: z.string(),
      registry: z.string(),
      txHash: z.string(),
      root: z.string(),
      label: z.string(),
    })
    .nullable()
    .default(null),
  suspect: z.object({
    protocol: z.enum(["tfserving", "kserve", "json", "raw", "local", "url"]),
    /**
     * How queries went on the wire: the model's numbers (`tensor`), or encoded images whose pixels
     * the verifier decodes from the request bodies (`png` exactly; `jpeg` is lossy: compared within
     * a tolerance and flagged). Absent in earlier reports: tensors.
     */
    encoding: z.enum(["tensor", "png", "jpeg"]).default("tensor"),
    target: z.string(),
    modelName: z.string().nullable(),
    /** Generic JSON APIs: the response part of the config (no headers, no secrets), to re-parse answers. */
    responseConfig: z.unknown().nullable(),
    /**
     * Generic JSON APIs: where the inputs sit in a request body and how they were scaled, so the
     * verifier can find each trigger in its request (the rest of the template is not kept: it may
     * hold secrets).
     */
    request: z
      .object({
        inputPath: z.array(z.union([z.string(), z.number().int().min(0)])),
        batch: z.boolean(),
        flat: z.boolean(),
        scale: z.enum(["model", "pixel/255", "pixel"]),
      })
      .nullable(),
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
      /** The namespace the cited registration is in, and its owner then (absent in older reports). */
      modelId: z.string().optional(),
      owner: z.string().optional(),
    })
    .nullable(),
  reveal: z.union([revealSchema, revealV2Schema]),
  /** `--protocol url`: the files fetched (absent for other protocols). */
  download: downloadSchema.nullable().default(null),
  /** `--protocol url`: the weight-mark test on the fetched model. */
  whiteBox: whiteBoxSchema.nullable().default(null),
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
    multiplicity: z.number().int().min(1),
    method: z.string(),
    empirical: z.object({ pValue: z.number(), referenceMatches: z.array(z.number().int()) }).nullable(),
    reason: z.string().nullable(),
  }),
  /** Caveats the run raised when it was made (e.g. JPEG queries are lossy), as printed then. */
  warnings: z.array(z.string()).default([]),
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
