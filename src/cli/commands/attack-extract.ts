import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { type Progress, progressBar } from "../progress.js";

export interface AttackExtractFlags {
  endpoint: string;
  protocol: "tfserving" | "kserve" | "json" | "raw";
  modelName?: string;
  config?: string;
  header?: string[];
  queries: number;
  strategy: "natural" | "noise" | "jbda";
  arch: "mlp" | "mlp-small" | "cnn";
  answers: "labels" | "probabilities";
  out: string;
  dataset: string;
  pool?: "test" | "all";
  eval?: string;
  agreement: number;
  epochs?: number;
  seed: number;
  batchSize: number;
  concurrency: number;
  rps?: number;
  timeout: number;
  retries: number;
  seedSize: number;
  lambda: number;
  tau: number;
  force?: boolean;
  json?: boolean;
}

/** `provmark attack extract`: train a surrogate through a model's HTTP API, as a thief would. */
export async function attackExtract(flags: AttackExtractFlags, globals: GlobalOptions): Promise<void> {
  const { extractSurrogate } = await import("../../lab/extract.js");
  const { parseHeaders } = await import("../../detect/adapters/headers.js");
  const { backendChoice } = await import("../../model/backend.js");
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once("SIGINT", onSignal);
  let bar: Progress | undefined;
  let stage = "";
  try {
    const r = await extractSurrogate({
      endpoint: flags.endpoint,
      protocol: flags.protocol,
      ...(flags.modelName === undefined ? {} : { modelName: flags.modelName }),
      ...(flags.config === undefined ? {} : { configPath: flags.config }),
      headers: parseHeaders(flags.header ?? [], process.env),
      queries: flags.queries,
      strategy: flags.strategy,
      arch: flags.arch,
      answers: flags.answers,
      out: flags.out,
      dataset: flags.dataset,
      ...(flags.pool === undefined ? {} : { pool: flags.pool }),
      ...(flags.eval === undefined ? {} : { evalDataset: flags.eval }),
      agreementQueries: flags.agreement,
      ...(flags.epochs === undefined ? {} : { epochs: flags.epochs }),
      seed: flags.seed,
      batchSize: flags.batchSize,
      concurrency: flags.concurrency,
      rps: flags.rps ?? null,
      timeoutMs: flags.timeout,
      retries: flags.retries,
      jbda: { seedSize: flags.seedSize, lambda: flags.lambda, tau: flags.tau },
      backend: backendChoice(globals.backend),
      force: !!flags.force,
      signal: abort.signal,
      onProgress: (p) => {
        const key = `${p.stage}-${p.round}`;
        if (key !== stage) {
          bar?.stop();
          stage = key;
          const label = p.round > 0 ? `${p.stage} (round ${p.round})` : p.stage;
          bar = progressBar(p.total, { ...flags, format: `${label} {bar} {value}/{total} | ETA {eta_formatted}` });
        }
        bar?.update(p.done);
      },
    });
    bar?.stop();
    emit(r, flags, (o) =>
      [
        `extracted a ${o.arch} surrogate (${o.strategy}, ${o.answers}) in ${o.seconds.total.toFixed(1)} s`,
        `  queries:   ${o.queries.sent} sent, ${o.queries.answered} answered, ${o.queries.failed} failed (${o.queries.requests} requests, ${o.queries.rateLimited} rate-limited)`,
        ...(o.rounds.length > 1 ? [`  rounds:    ${o.rounds.join(", ")}`] : []),
        ...(o.refused === null ? [] : [`  stopped:   ${o.refused}`]),
        ...(o.agreement === null
          ? []
          : [`  agreement: ${(o.agreement * 100).toFixed(2)}% with the API on ${o.agreementCount} held-out images`]),
        ...(o.testAccuracy === null ? [] : [`  accuracy:  ${(o.testAccuracy * 100).toFixed(2)}% on ${o.evalDataset}`]),
        `wrote ${o.out}`,
      ].join("\n"),
    );
  } finally {
    bar?.stop();
    process.off("SIGINT", onSignal);
  }
}
