import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type OpenAdapterOptions, openAdapter } from "../../../src/detect/adapters/open-adapter.js";
import type { QueryInput, SuspectAdapter } from "../../../src/detect/adapters/types.js";
import { type JournalLine, scanJournal } from "../../../src/detect/runner/journal.js";
import { type RunOptions, type RunResult, runQueries } from "../../../src/detect/runner/run-queries.js";
import { tempDir } from "../../helpers/fixtures.js";
import { recordingSleep } from "./fake-suspect.js";

export interface TestRun {
  run: RunResult;
  runDir: string;
  waits: number[];
  adapter: SuspectAdapter;
}

/** Opens an adapter, runs the queries into a fresh run dir with a recording sleep, closes the adapter. */
export async function runAgainst(
  open: Omit<OpenAdapterOptions, "timeoutMs"> & { timeoutMs?: number },
  queries: readonly QueryInput[],
  opts: Partial<Omit<RunOptions, "adapter" | "queries">> = {},
): Promise<TestRun> {
  const adapter = await openAdapter({ timeoutMs: 5000, ...open });
  const { sleep, waits } = recordingSleep();
  const runDir = opts.runDir ?? join(await tempDir("provmark-detect-"), "run");
  try {
    const run = await runQueries({ adapter, queries, runDir, sleep, ...opts });
    return { run, runDir, waits, adapter };
  } finally {
    await adapter.close();
  }
}

export async function journalLines(runDir: string): Promise<JournalLine[]> {
  const lines: JournalLine[] = [];
  await scanJournal(runDir, (l) => lines.push(l));
  return lines;
}

/** Every file under the run dir, as text, for "the secret is nowhere" checks. */
export async function allFilesText(dir: string): Promise<string> {
  let out = "";
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out += await readFile(join(e.parentPath, e.name), "latin1");
  }
  return out;
}

export function labelsOf(run: RunResult): Map<string, number | string> {
  return new Map([...run.results].map(([id, r]) => [id, r.result.ok ? r.result.label : r.result.failure]));
}
