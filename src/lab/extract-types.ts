import type { FailureKind } from "../detect/adapters/types.js";
import type { Arch } from "../model/archs.js";
import type { BackendChoice } from "../model/backend.js";

export const EXTRACT_FILE = "extract.json";
export const EXTRACT_STRATEGIES = ["natural", "noise", "jbda"] as const;
export type ExtractStrategy = (typeof EXTRACT_STRATEGIES)[number];
export const EXTRACT_PROTOCOLS = ["tfserving", "kserve", "json", "raw"] as const;
export type ExtractProtocol = (typeof EXTRACT_PROTOCOLS)[number];
export type ExtractAnswers = "labels" | "probabilities";

/** Defaults; jbda's epochs are per round (Papernot trains the substitute again after each augmentation). */
export const EXTRACT_DEFAULTS = {
  dataset: "mnist",
  seed: 1,
  batchSize: 32,
  concurrency: 4,
  timeoutMs: 30_000,
  retries: 4,
  maxRateLimitWaitMs: 600_000,
  jbdaSeedSize: 150,
  jbdaLambda: 0.1,
  jbdaTau: 3,
  epochs: { mlp: 10, "mlp-small": 10, cnn: 4 } as Record<Arch, number>,
  // Per round: measured on MNIST, 3 MLP epochs a round agree with the API better than 10 (80% vs 76%
  // at 5,000 queries, 86% vs 85% at 20,000) in less than half the time; the CNN keeps 4.
  jbdaEpochs: { mlp: 3, "mlp-small": 3, cnn: 4 } as Record<Arch, number>,
  trainBatch: 64,
} as const;

export interface ExtractOptions {
  endpoint: string;
  protocol: ExtractProtocol;
  /** tfserving, kserve. */
  modelName?: string;
  /** json: the API description file. */
  configPath?: string;
  /** From `parseHeaders` (e.g. an API key). */
  headers?: Readonly<Record<string, string>>;
  /** The query budget: exactly this many training queries are sent (failed ones included). */
  queries: number;
  strategy: ExtractStrategy;
  arch: Arch;
  answers: ExtractAnswers;
  /** The surrogate's LayersModel directory (with extract.json), written atomically. */
  out: string;
  /** The thief's images (and the API's input shape and classes): a dataset spec; default mnist. */
  dataset?: string;
  /** Test accuracy on this dataset's labels: the held-out part when it is `dataset`, else its test split. */
  evalDataset?: string;
  /**
   * mnist: the thief's own digits are its test split (default: images the victim never saw), or
   * "all" 10,000 (MNIST is public, so a thief may well have the victim's training images too).
   */
  pool?: "test" | "all";
  /** Also send this many held-out images (not from the budget) to measure agreement with the API. */
  agreementQueries?: number;
  /** Epochs of surrogate training (per round for jbda). */
  epochs?: number;
  seed?: number;
  /** Queries per request. */
  batchSize?: number;
  /** Requests in flight. */
  concurrency?: number;
  rps?: number | null;
  timeoutMs?: number;
  retries?: number;
  maxRateLimitWaitMs?: number;
  /** jbda: the natural seed set's size (default 150), λ (0.1) and the sign period τ (3 rounds). */
  jbda?: { seedSize?: number; lambda?: number; tau?: number };
  backend?: BackendChoice;
  force?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: { stage: "querying" | "training"; done: number; total: number; round: number }) => void;
}

export interface ExtractResult {
  schema: "provmark/extract/v1";
  out: string;
  endpoint: string;
  protocol: ExtractProtocol;
  strategy: ExtractStrategy;
  answers: ExtractAnswers;
  arch: Arch;
  epochs: number;
  seed: number;
  dataset: string;
  pool: string;
  queries: {
    budget: number;
    sent: number;
    answered: number;
    failed: number;
    failuresByKind: Partial<Record<FailureKind, number>>;
    requests: number;
    retries: number;
    rateLimited: number;
    /** Held-out queries for the agreement figure (not in the budget). */
    agreementSent: number;
  };
  /** jbda: the queries of each round (the seed set first). */
  rounds: number[];
  /**
   * Why querying stopped before the budget was spent: the API refused the key (HTTP 401/403) after
   * answering some queries, e.g. a guard that blocks a client it caught. The surrogate is trained on
   * what was answered. (A refusal before any answer is the EXTRACT_UNAUTHORIZED error instead.)
   */
  refused: string | null;
  /** Fraction of answered held-out queries where the surrogate's top-1 equals the API's; null when none. */
  agreement: number | null;
  agreementCount: number;
  testAccuracy: number | null;
  evalDataset: string | null;
  seconds: { total: number; querying: number; training: number };
  backend: string;
}
