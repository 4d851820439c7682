/**
 * Runs the query runner in its own process, for the crash test: node --import tsx runner-child.ts <url> <runDir> <n>.
 * Prints one JSON line with the run's outcome when it finishes.
 */
import { openAdapter } from "../../../src/detect/adapters/open-adapter.js";
import { runQueries } from "../../../src/detect/runner/run-queries.js";
import { CHILD_CLASSES, CHILD_SHAPE, makeQueries } from "./fake-suspect.js";

const [url, runDir, n] = process.argv.slice(2);
const adapter = await openAdapter({
  protocol: "tfserving",
  endpoint: url as string,
  modelName: "m",
  headers: {},
  classes: CHILD_CLASSES,
  inputShape: CHILD_SHAPE,
  timeoutMs: 10_000,
});
const run = await runQueries({
  adapter,
  queries: makeQueries(Number(n), CHILD_SHAPE, 5),
  runDir: runDir as string,
  batchSize: 4,
  concurrency: 3,
});
const answered = [...run.results.values()].filter((r) => r.result.ok).length;
process.stdout.write(
  `${JSON.stringify({ resumed: run.resumed, complete: run.complete, requests: run.stats.requests, answered })}\n`,
);
