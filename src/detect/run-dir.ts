import { lstat, readdir, readFile, rm, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { ProvmarkError } from "../errors.js";
import { BODIES_LOG } from "./runner/body-log.js";
import { ANSWERS_FILE, journalHeaderSchema } from "./runner/journal.js";

export const PLAN_FILE = "plan.json";
/** Every plan ever committed in this run directory, one JSON line each; never deleted by provmark. */
export const PLAN_LOG = "plans.jsonl";

/** `--protocol url`: the fetched model (plain files only), and the record of how it was fetched. */
export const SUSPECT_MODEL_DIR = "suspect-model";
export const DOWNLOAD_RECORD = "download.json";

/** The current run's files: cleared by --fresh and after a completed run. */
const RUN_FILES = new Set([PLAN_FILE, ANSWERS_FILE, BODIES_LOG, DOWNLOAD_RECORD]);
/** Temp files of the atomic writes of the plan, the journal header and the download, left by a crash. */
const RUN_TEMP = /^\.(plan\.json|answers\.jsonl|download\.json)\.tmp-[0-9a-f]+$/;
const MODEL_TEMP = /^\.suspect-model\.(tmp|old)-[0-9a-f]+$/;

const foreign = (runDir: string, why: string) =>
  new ProvmarkError(
    "DETECT_RUN_DIR_FOREIGN",
    `${runDir} is not a provmark run directory (${why}); nothing was deleted`,
    {
      subject: runDir,
      hints: [
        "--fresh deletes only what provmark wrote in a run directory it made (plan.json, answers.jsonl, bodies.log).",
        "Choose another --run directory, or move the other files out of this one.",
      ],
    },
  );

/**
 * Ends the current run of a detection run directory (for `--fresh`, and after a completed run): its
 * plan, answers and bodies are removed by name, never the tree, and only when provmark recognisably
 * made the directory and it holds nothing else. The plan log stays: a dropped run is still counted.
 * A missing directory is fine; anything else is refused (DETECT_RUN_DIR_FOREIGN) and left untouched.
 */
export async function clearRunDir(runDir: string): Promise<void> {
  const st = await lstat(runDir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return null;
    throw new ProvmarkError("PATH_UNREADABLE", `cannot read ${runDir}: ${e.message}`, { subject: runDir, cause: e });
  });
  if (st === null) return;
  if (!st.isDirectory()) throw foreign(runDir, st.isSymbolicLink() ? "it is a symbolic link" : "it is not a directory");
  const names = await readdir(runDir);
  const others: string[] = [];
  for (const name of names) {
    if (name === SUSPECT_MODEL_DIR || MODEL_TEMP.test(name)) {
      if (!(await holdsOnlyFiles(join(runDir, name)))) others.push(name);
      continue;
    }
    const known = RUN_FILES.has(name) || name === PLAN_LOG || RUN_TEMP.test(name);
    if (!known || !(await lstat(join(runDir, name))).isFile()) others.push(name);
  }
  if (others.length > 0) {
    const list = others.slice(0, 5).map((n) => JSON.stringify(n));
    throw foreign(runDir, `it holds ${list.join(", ")}${others.length > 5 ? ` and ${others.length - 5} more` : ""}`);
  }
  if (names.length === 0) return;
  if (!(await madeByProvmark(runDir))) throw foreign(runDir, "neither a provmark plan nor a run journal is in it");
  for (const name of names) {
    if (name === PLAN_LOG) continue;
    const dir = name === SUSPECT_MODEL_DIR || MODEL_TEMP.test(name);
    await rm(join(runDir, name), { force: true, recursive: dir });
  }
  if (!names.includes(PLAN_LOG)) await rmdir(runDir);
}

/** A real directory (no symlink) of regular files only: what provmark's download writes. */
async function holdsOnlyFiles(dir: string): Promise<boolean> {
  if (!(await lstat(dir)).isDirectory()) return false;
  for (const name of await readdir(dir)) if (!(await lstat(join(dir, name))).isFile()) return false;
  return true;
}

/** A provmark plan in plan.json, or a provmark journal header as answers.jsonl's first line. */
async function madeByProvmark(runDir: string): Promise<boolean> {
  const plan = await readFile(join(runDir, PLAN_FILE), "utf8").catch(() => null);
  const planSchema = (v: unknown) =>
    (v as { plan?: { schema?: unknown } } | null)?.plan?.schema ?? (v as { schema?: unknown } | null)?.schema;
  if (
    plan !== null &&
    parsesTo(plan, (v) => ["provmark/run-plan/v2", "provmark/detect-plan/v1"].includes(planSchema(v) as string))
  ) {
    return true;
  }
  const log = await readFile(join(runDir, PLAN_LOG), "utf8").catch(() => null);
  const first = log?.split("\n", 1)[0];
  if (first !== undefined && parsesTo(first, (v) => planSchema(v) === "provmark/run-plan/v2")) return true;
  const journal = await readFile(join(runDir, ANSWERS_FILE), "utf8").catch(() => null);
  const header = journal?.split("\n", 1)[0];
  return header !== undefined && parsesTo(header, (v) => journalHeaderSchema.safeParse(v).success);
}

function parsesTo(text: string, test: (v: unknown) => boolean): boolean {
  try {
    return test(JSON.parse(text));
  } catch {
    return false;
  }
}
