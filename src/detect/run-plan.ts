import { randomBytes } from "node:crypto";
import { appendFile, mkdir, open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { canonicalHash, canonicalJson } from "../core/canonical-json.js";
import { type RunPlanDoc, runPlanSchema } from "../core/detect/evidence.js";
import { type Plan, planQueries } from "../core/detect/plan.js";
import { fromFsError, ProvmarkError } from "../errors.js";
import { writeFileAtomic } from "../model/atomic-write.js";
import { clearRunDir, PLAN_FILE, PLAN_LOG } from "./run-dir.js";

export { PLAN_FILE, PLAN_LOG };

export interface CommittedPlan {
  planHash: string;
  block: number | null;
  createdAt: string;
}

export interface RunPlan {
  doc: RunPlanDoc;
  planHash: string;
  plan: Plan;
  /** True when an earlier, unfinished run's plan was picked up. */
  resumed: boolean;
  /** Every plan committed here for the same certificate and suspect, this one included. */
  committed: CommittedPlan[];
  /** Its on-chain anchor, once `detect --anchor` has sent it (kept across resumes). */
  anchor: PlanAnchorRecord | null;
}

export interface PlanAnchorRecord {
  chainId: string;
  registry: string;
  txHash: string;
  root: string;
  label: string;
}

export interface PlanWanted {
  certificateHash: string;
  suspect: RunPlanDoc["suspect"];
  triggerCount: number;
  decoyRatio: number;
  decoysFrom: string | null;
  decoyCount: number;
  /**
   * v2 certificates: the triggers of run block b (fixed by the key's committed run order); the next
   * unused block is taken, so every rerun is counted. v1: undefined, and `subset` triggers are drawn.
   */
  blockTriggers?: (block: number) => number[];
  subset: number;
}

const sameRun = (p: RunPlanDoc, w: PlanWanted) =>
  p.certificateHash === w.certificateHash &&
  p.suspect.protocol === w.suspect.protocol &&
  p.suspect.target === w.suspect.target &&
  p.suspect.modelName === w.suspect.modelName;

/** Reads the plan log; a damaged line is an error, never silently skipped (it would hide a run). */
async function readPlanLog(runDir: string): Promise<{ planHash: string; plan: RunPlanDoc }[]> {
  const path = join(runDir, PLAN_LOG);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw fromFsError(e, path);
  }
  const out: { planHash: string; plan: RunPlanDoc }[] = [];
  const lines = text.split("\n");
  for (const [i, line] of lines.entries()) {
    if (line === "" && i === lines.length - 1) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = null;
    }
    const r = runPlanSchema.safeParse((parsed as { plan?: unknown } | null)?.plan);
    const hash = (parsed as { planHash?: unknown } | null)?.planHash;
    if (!r.success || typeof hash !== "string" || canonicalHash(r.data) !== hash) {
      throw new ProvmarkError("DETECT_JOURNAL_INVALID", `${path}: line ${i + 1} is not a committed plan`, {
        subject: path,
        hints: ["The plan log was edited or damaged. It records every detection run here; restore it from a backup."],
      });
    }
    out.push({ planHash: hash, plan: r.data });
  }
  return out;
}

/** Appends one plan to the log and syncs it: the commitment precedes the first query. */
async function commitPlan(runDir: string, planHash: string, plan: RunPlanDoc): Promise<void> {
  const path = join(runDir, PLAN_LOG);
  const line = `${canonicalJson({ planHash, plan })}\n`;
  try {
    await appendFile(path, line, { mode: 0o600 });
    const fh = await open(path, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw fromFsError(e, path);
  }
}

/**
 * The run's plan: the unfinished one in the run directory when there is one (a resumed run sends the
 * very same queries), else a new one, committed to the directory's plan log before any query. `fresh`
 * abandons the unfinished run's answers but never the plan log: a dropped run still counts.
 */
export async function loadOrCreatePlan(runDir: string, wanted: PlanWanted, fresh: boolean): Promise<RunPlan> {
  const path = join(runDir, PLAN_FILE);
  if (fresh) await clearRunDir(runDir);
  await mkdir(runDir, { recursive: true }).catch((e: unknown) => {
    throw fromFsError(e, runDir, "create");
  });
  const log = await readPlanLog(runDir);
  const committedFor = () =>
    log
      .filter((e) => sameRun(e.plan, wanted))
      .map((e) => ({ planHash: e.planHash, block: e.plan.block, createdAt: e.plan.createdAt }));
  let text: string | null = null;
  let anchor: PlanAnchorRecord | null = null;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw fromFsError(e, path);
  }
  if (text !== null) {
    const parsed = (() => {
      try {
        const json = JSON.parse(text) as { plan?: unknown; anchor?: PlanAnchorRecord };
        anchor = json.anchor ?? null;
        return runPlanSchema.safeParse(json.plan);
      } catch {
        return null;
      }
    })();
    if (!parsed?.success) {
      throw new ProvmarkError("DETECT_JOURNAL_INVALID", `${path} is not a detection plan`, {
        subject: path,
        hints: ["Pass --fresh to start a new run (the unfinished run's answers are discarded; it stays counted)."],
      });
    }
    const doc = parsed.data;
    const planHash = canonicalHash(doc);
    if (!log.some((e) => e.planHash === planHash)) {
      throw new ProvmarkError("DETECT_JOURNAL_INVALID", `${path} is not in the run directory's plan log`, {
        subject: path,
        hints: ["The run directory was edited. Pass --fresh to start a new run."],
      });
    }
    const differs = (["certificateHash", "triggerCount", "decoyRatio", "decoysFrom", "decoyCount"] as const).filter(
      (k) => doc[k] !== wanted[k],
    );
    if (!sameRun(doc, wanted)) differs.push("suspect" as never);
    if (differs.length) {
      throw new ProvmarkError(
        "DETECT_PLAN_MISMATCH",
        `the unfinished run in ${runDir} was planned with other settings (${differs.join(", ")})`,
        { subject: runDir, hints: ["Rerun with the same settings to resume it, or pass --fresh to start over."] },
      );
    }
    return { doc, planHash, plan: planOf(doc), resumed: true, committed: committedFor(), anchor };
  }
  const prior = committedFor();
  const block = wanted.blockTriggers ? prior.length : null;
  const runSeed = randomBytes(16).toString("hex");
  const triggers =
    block !== null && wanted.blockTriggers
      ? wanted.blockTriggers(block)
      : planQueries({
          triggerCount: wanted.triggerCount,
          subset: wanted.subset,
          decoyCount: wanted.decoyCount,
          decoyRatio: wanted.decoyRatio,
          runSeed,
        }).triggers;
  const doc: RunPlanDoc = {
    schema: "provmark/run-plan/v2",
    createdAt: new Date().toISOString(),
    certificateHash: wanted.certificateHash,
    suspect: wanted.suspect,
    block,
    triggers,
    runSeed,
    triggerCount: wanted.triggerCount,
    decoyRatio: wanted.decoyRatio,
    decoysFrom: wanted.decoysFrom,
    decoyCount: wanted.decoyCount,
  };
  const planHash = canonicalHash(doc);
  await commitPlan(runDir, planHash, doc);
  // 0600: the plan says which queries are triggers.
  await writeFileAtomic(path, `${JSON.stringify({ planHash, plan: doc }, null, 2)}\n`, 0o600);
  return {
    doc,
    planHash,
    plan: planOf(doc),
    resumed: false,
    anchor: null,
    committed: [...prior, { planHash, block, createdAt: doc.createdAt }],
  };
}

/** The queries of a plan document (v2: its fixed triggers; v1: the seed's subset). */
export function planOf(doc: RunPlanDoc): Plan {
  return planQueries({
    triggerCount: doc.triggerCount,
    subset: doc.triggers.length,
    decoyCount: doc.decoyCount,
    decoyRatio: doc.decoyRatio,
    runSeed: doc.runSeed,
    ...(doc.block !== null ? { triggers: doc.triggers } : {}),
  });
}

/** Records the plan's on-chain anchor next to it, so a resumed run does not anchor it again. */
export async function recordPlanAnchor(runDir: string, run: RunPlan, anchor: PlanAnchorRecord): Promise<void> {
  await writeFileAtomic(
    join(runDir, PLAN_FILE),
    `${JSON.stringify({ planHash: run.planHash, plan: run.doc, anchor }, null, 2)}\n`,
    0o600,
  );
  run.anchor = anchor;
}
