import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { type Plan, planQueries } from "../core/detect/plan.js";
import { fromFsError, ProvmarkError } from "../errors.js";
import { writeFileAtomic } from "../model/atomic-write.js";
import { clearRunDir, PLAN_FILE } from "./run-dir.js";

const planFileSchema = z.object({
  schema: z.literal("provmark/detect-plan/v1"),
  createdAt: z.string(),
  target: z.string(),
  protocol: z.string(),
  runSeed: z.string().regex(/^[0-9a-f]{32}$/),
  subset: z.number().int().positive(),
  decoyRatio: z.number().nonnegative(),
  decoysFrom: z.string().nullable(),
  decoyCount: z.number().int().nonnegative(),
  triggerCount: z.number().int().positive(),
});
export type PlanFile = z.infer<typeof planFileSchema>;

export { PLAN_FILE };

export interface RunPlan {
  file: PlanFile;
  plan: Plan;
  /** True when an earlier, unfinished run's plan was picked up. */
  resumed: boolean;
}

/**
 * The run's plan: read back from the run dir when one is there (a resumed run must send the very same
 * queries), else drawn with a fresh random seed and written (0600: it says which inputs are triggers)
 * before the first query goes out.
 */
export async function loadOrCreatePlan(
  runDir: string,
  wanted: Omit<PlanFile, "schema" | "createdAt" | "runSeed">,
  fresh: boolean,
): Promise<RunPlan> {
  const path = join(runDir, PLAN_FILE);
  if (fresh) await clearRunDir(runDir);
  let text: string | null = null;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw fromFsError(e, path);
  }
  if (text !== null) {
    const parsed = (() => {
      try {
        return planFileSchema.safeParse(JSON.parse(text));
      } catch {
        return null;
      }
    })();
    if (!parsed?.success) {
      throw new ProvmarkError("DETECT_JOURNAL_INVALID", `${path} is not a detection plan`, {
        subject: path,
        hints: ["Pass --fresh to start a new run (the old run's answers are discarded)."],
      });
    }
    const f = parsed.data;
    const differs = (
      ["target", "protocol", "subset", "decoyRatio", "decoysFrom", "decoyCount", "triggerCount"] as const
    ).filter((k) => f[k] !== wanted[k]);
    if (differs.length) {
      throw new ProvmarkError(
        "DETECT_PLAN_MISMATCH",
        `the unfinished run in ${runDir} was planned with other settings (${differs.join(", ")})`,
        { subject: runDir, hints: ["Rerun with the same settings to resume it, or pass --fresh to start over."] },
      );
    }
    return { file: f, plan: planQueries({ ...f }), resumed: true };
  }
  const file: PlanFile = {
    schema: "provmark/detect-plan/v1",
    createdAt: new Date().toISOString(),
    runSeed: randomBytes(16).toString("hex"),
    ...wanted,
  };
  await writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, 0o600);
  return { file, plan: planQueries({ ...file }), resumed: false };
}
