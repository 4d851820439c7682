import { toModelInput } from "../core/input/model-io.js";
import { createRng } from "../core/rng.js";
import { ProvmarkError } from "../errors.js";
import { createAdam } from "../model/adam.js";
import { ARCH_DEFAULTS, buildModel } from "../model/archs.js";
import { assertOutputFree } from "../model/atomic-write.js";
import { loadTf } from "../model/backend.js";
import { loadDataset } from "../model/datasets/index.js";
import { fileSaveHandler } from "../model/fs-io-handler.js";
import { evalAccuracy, measureAgreement } from "./extract-measure.js";
import { naturalQueries, noiseQueries, thiefPool } from "./extract-pool.js";
import { type ApiAnswer, ApiQuerier } from "./extract-query.js";
import { answerTarget, jacobianAugment, TrainingSet, trainOnAnswers } from "./extract-train.js";
import {
  EXTRACT_DEFAULTS,
  EXTRACT_FILE,
  EXTRACT_PROTOCOLS,
  EXTRACT_STRATEGIES,
  type ExtractOptions,
  type ExtractResult,
} from "./extract-types.js";

export {
  EXTRACT_DEFAULTS,
  EXTRACT_FILE,
  EXTRACT_PROTOCOLS,
  EXTRACT_STRATEGIES,
  type ExtractAnswers,
  type ExtractOptions,
  type ExtractProtocol,
  type ExtractResult,
  type ExtractStrategy,
} from "./extract-types.js";

const usage = (subject: string, message: string) => new ProvmarkError("USAGE", message, { subject });

/**
 * The thief's side of model extraction, for the lab: query a model's HTTP API with natural images,
 * uniform noise or Papernot's JBDA points, train a surrogate on its answers (top-1 labels or score
 * vectors), and save it as a LayersModel directory with `extract.json`.
 *
 * @example
 * const r = await extractSurrogate({ endpoint: "http://127.0.0.1:8501", protocol: "tfserving", modelName: "mnist",
 *   queries: 5000, strategy: "natural", arch: "mlp", answers: "labels", out: "stolen" });
 * console.log(r.agreement, r.queries.sent);
 */
export async function extractSurrogate(o: ExtractOptions): Promise<ExtractResult> {
  const started = performance.now();
  if (!Number.isSafeInteger(o.queries) || o.queries < 1)
    throw usage("--queries", "--queries must be a positive integer");
  if (!EXTRACT_STRATEGIES.includes(o.strategy))
    throw usage("--strategy", `unknown strategy ${JSON.stringify(o.strategy)}`);
  if (!EXTRACT_PROTOCOLS.includes(o.protocol))
    throw usage("--protocol", `unknown protocol ${JSON.stringify(o.protocol)}`);
  if (!(o.arch in ARCH_DEFAULTS)) throw usage("--arch", `unknown architecture ${JSON.stringify(o.arch)}`);
  if (o.answers !== "labels" && o.answers !== "probabilities")
    throw usage("--answers", "--answers must be labels or probabilities");
  const seed = o.seed ?? EXTRACT_DEFAULTS.seed;
  const epochs = o.epochs ?? (o.strategy === "jbda" ? EXTRACT_DEFAULTS.jbdaEpochs : EXTRACT_DEFAULTS.epochs)[o.arch];
  const lambda = o.jbda?.lambda ?? EXTRACT_DEFAULTS.jbdaLambda;
  const tau = o.jbda?.tau ?? EXTRACT_DEFAULTS.jbdaTau;
  const seedSize = Math.min(o.queries, o.jbda?.seedSize ?? EXTRACT_DEFAULTS.jbdaSeedSize);
  if (!(lambda > 0 && lambda <= 1)) throw usage("--lambda", "λ must be in (0, 1]");
  if (!Number.isInteger(tau) || tau < 1) throw usage("--tau", "τ must be a positive integer");
  if (!Number.isInteger(seedSize) || seedSize < 1) throw usage("--seed-size", "the seed set needs at least one image");
  await assertOutputFree(o.out, o.force ?? false, "Choose another --out, or pass --force.");

  const spec = o.dataset ?? EXTRACT_DEFAULTS.dataset;
  const data = await loadDataset(spec);
  const evalData = o.evalDataset === undefined || o.evalDataset === spec ? undefined : await loadDataset(o.evalDataset);
  if (
    evalData !== undefined &&
    (evalData.inputShape.join() !== data.inputShape.join() || evalData.numClasses !== data.numClasses)
  ) {
    // Refused before any query is spent.
    throw new ProvmarkError(
      "DATASET_MODEL_MISMATCH",
      `${evalData.name} (${evalData.inputShape.join("×")}, ${evalData.numClasses} classes) does not fit ${data.name} (${data.inputShape.join("×")}, ${data.numClasses} classes)`,
      { subject: "--eval" },
    );
  }
  const pool = thiefPool(data, seed, o.pool ?? "test");
  const shape = data.inputShape;
  const C = data.numClasses;
  const input = data.io.input;
  const toInput = (pixels: Uint8Array) => toModelInput(input, pixels);
  const { tf, info } = await loadTf(o.backend ?? "auto");
  const { openAdapter } = await import("../detect/adapters/open-adapter.js");
  const timeoutMs = o.timeoutMs ?? EXTRACT_DEFAULTS.timeoutMs;
  const batchSize = o.batchSize ?? EXTRACT_DEFAULTS.batchSize;
  const adapter = await openAdapter({
    protocol: o.protocol,
    endpoint: o.endpoint,
    modelName: o.modelName,
    configPath: o.configPath,
    headers: o.headers ?? {},
    classes: C,
    // Raw APIs answer class names; a dataset without names has classes "0".."C-1", as `provmark serve` answers.
    classNames: data.io.classes.names ?? Array.from({ length: C }, (_, i) => String(i)),
    inputShape: shape,
    input,
    timeoutMs,
    maxBatch: batchSize,
  });
  const querier = new ApiQuerier(adapter, {
    concurrency: o.concurrency ?? EXTRACT_DEFAULTS.concurrency,
    batchSize,
    retries: o.retries ?? EXTRACT_DEFAULTS.retries,
    timeoutMs,
    rps: o.rps ?? null,
    maxRateLimitWaitMs: o.maxRateLimitWaitMs ?? EXTRACT_DEFAULTS.maxRateLimitWaitMs,
    ...(o.signal === undefined ? {} : { signal: o.signal }),
  });
  const soft = o.answers === "probabilities";
  const set = new TrainingSet(shapeSize(shape), C, o.queries);
  const model = buildModel(tf, o.arch, shape, C, seed);
  const optimizer = createAdam(tf, ARCH_DEFAULTS[o.arch].learningRate);
  const rng = createRng(seed, `extract-${o.strategy}`);
  const trainRng = createRng(seed, "extract-train");
  let queryMs = 0;
  let trainMs = 0;
  let round = 0;
  const rounds: number[] = [];
  try {
    /** Queries one round's images and adds the answered ones to the training set. */
    const ask = async (images: Uint8Array[]) => {
      const t = performance.now();
      const before = querier.stats.sent;
      const answers = await querier.ask(images, shape, (done) =>
        o.onProgress?.({ stage: "querying", done: before + done, total: o.queries, round }),
      );
      queryMs += performance.now() - t;
      rounds.push(querier.stats.sent - before);
      if (querier.refused !== undefined && querier.stats.answered === 0) throw querier.refused;
      checkFirstAnswers(answers, querier, soft, adapter.target);
      for (const [i, a] of answers.entries())
        if (a !== null) set.add(toInput(images[i] as Uint8Array), answerTarget(a, C, soft));
      return answers;
    };
    const train = async () => {
      if (o.signal?.aborted) throw cancelled(o.signal.reason);
      const t = performance.now();
      await trainOnAnswers(tf, model, optimizer, set, {
        epochs,
        batchSize: EXTRACT_DEFAULTS.trainBatch,
        shape,
        classes: C,
        rng: trainRng,
        onBatch: (done, total) => o.onProgress?.({ stage: "training", done, total, round }),
      });
      trainMs += performance.now() - t;
    };

    if (o.strategy === "jbda") {
      // S0: natural seed images; each round every answered image in S spawns one Jacobian step.
      let images = naturalQueries(pool, shape, seedSize, rng);
      let answers = await ask(images);
      const kept: { img: Uint8Array; label: number }[] = [];
      const keep = () => {
        for (const [i, a] of answers.entries())
          if (a !== null) kept.push({ img: images[i] as Uint8Array, label: a.label });
      };
      keep();
      await train();
      while (querier.stats.sent < o.queries && kept.length > 0 && querier.refused === undefined) {
        round++;
        const left = o.queries - querier.stats.sent;
        // Papernot's periodic step: λ flips sign every τ rounds, so points do not run off the data.
        const step = lambda * (Math.floor((round - 1) / tau) % 2 === 0 ? 1 : -1);
        const chosen = left >= kept.length ? kept : pickSubset(kept, left, rng);
        images = jacobianAugment(
          tf,
          model,
          chosen.map((k) => k.img),
          chosen.map((k) => k.label),
          input,
          step,
          toInput,
        );
        answers = await ask(images);
        keep();
        await train();
      }
    } else {
      const images =
        o.strategy === "natural" ? naturalQueries(pool, shape, o.queries, rng) : noiseQueries(shape, o.queries, rng);
      await ask(images);
      await train();
    }

    // A refused thief sends nothing more, so it has no agreement figure either.
    const agreementN = querier.refused === undefined ? Math.min(o.agreementQueries ?? 0, pool.heldOutCount) : 0;
    const s = querier.stats;
    const training = { sent: s.sent, answered: s.answered, failed: s.failed, byKind: { ...s.failuresByKind } };
    const { agreement, agreementCount } = await measureAgreement(tf, model, pool, agreementN, querier, shape, toInput);
    const testAccuracy = evalAccuracy(tf, model, pool, evalData, o.evalDataset, toInput, shape);
    const result: ExtractResult = {
      schema: "provmark/extract/v1",
      out: o.out,
      endpoint: adapter.target,
      protocol: o.protocol,
      strategy: o.strategy,
      answers: o.answers,
      arch: o.arch,
      epochs,
      seed,
      dataset: data.name,
      pool: pool.note,
      queries: {
        budget: o.queries,
        sent: training.sent,
        answered: training.answered,
        failed: training.failed,
        failuresByKind: Object.fromEntries(Object.entries(training.byKind).filter(([, v]) => v > 0)),
        requests: s.requests,
        retries: s.retries,
        rateLimited: s.rateLimited,
        agreementSent: s.sent - training.sent,
      },
      rounds,
      refused: querier.refused?.message ?? null,
      agreement,
      agreementCount,
      testAccuracy,
      evalDataset: o.evalDataset ?? null,
      seconds: { total: 0, querying: queryMs / 1000, training: trainMs / 1000 },
      backend: info.backend,
    };
    model.setUserDefinedMetadata({
      provmark: {
        dataset: data.name,
        arch: o.arch,
        seed,
        epochs,
        inputShape: [...shape],
        numClasses: C,
        extractedFrom: adapter.target,
      },
    });
    result.seconds.total = (performance.now() - started) / 1000;
    await model.save(
      fileSaveHandler(tf, o.out, {
        overwrite: o.force ?? false,
        extraFiles: () => ({ [EXTRACT_FILE]: `${JSON.stringify(result, null, 2)}\n` }),
      }),
    );
    return result;
  } finally {
    optimizer.dispose();
    model.dispose();
    await adapter.close();
  }
}

const cancelled = (cause: unknown) =>
  new ProvmarkError("USAGE", "the extraction was cancelled", { subject: "signal", cause });

const shapeSize = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** The first round tells whether the API can be extracted from at all, before any training is wasted. */
function checkFirstAnswers(answers: readonly (ApiAnswer | null)[], q: ApiQuerier, soft: boolean, target: string) {
  if (q.stats.answered === 0) {
    const why = q.firstFailure === undefined ? "" : ` (first: ${q.firstFailure})`;
    throw new ProvmarkError("EXTRACT_NO_ANSWERS", `${target} answered none of ${answers.length} queries${why}`, {
      subject: "--endpoint",
      hints: [
        "Check --protocol, --model-name and the dataset's input shape against the API (try provmark detect first).",
      ],
    });
  }
  const first = answers.find((a) => a !== null);
  if (soft && first !== undefined && first !== null && first.scores === undefined) {
    throw new ProvmarkError("EXTRACT_NO_SCORES", `${target} answers labels only: it gave no score per class`, {
      subject: "--answers",
      hints: ["Use --answers labels against this API."],
    });
  }
}

function pickSubset<T>(items: readonly T[], n: number, rng: { int(n: number): number }): T[] {
  const idx = Array.from(items.keys());
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(idx.length - i);
    [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
  }
  return idx.slice(0, n).map((i) => items[i] as T);
}
