import { ProvmarkError } from "../../errors.js";
import type { ModelIOOverrides } from "../../model/infer-io.js";

/** The flags program.ts `withModelIOFlags` adds. */
export interface ModelIOFlags {
  preprocess?: string;
  classNames?: string;
  resize?: "stretch" | "center-crop" | "pad";
}

/** Flags to overrides; `--class-names` is comma-separated, or a JSON list when names hold commas. */
export function modelIOOverrides(flags: ModelIOFlags): ModelIOOverrides {
  return {
    ...(flags.preprocess === undefined ? {} : { preprocess: flags.preprocess }),
    ...(flags.classNames === undefined ? {} : { classNames: parseClassNames(flags.classNames) }),
    ...(flags.resize === undefined ? {} : { resize: flags.resize }),
  };
}

export function parseClassNames(v: string): string[] {
  if (!v.trimStart().startsWith("[")) return v.split(",").map((s) => s.trim());
  let list: unknown;
  try {
    list = JSON.parse(v);
  } catch (e) {
    throw new ProvmarkError("USAGE", `--class-names is not a valid JSON list: ${(e as Error).message}`, {
      subject: "--class-names",
      hints: ['Write names comma-separated (cat,dog), or as a JSON list (["a, b","c"]).'],
    });
  }
  if (!Array.isArray(list) || !list.every((n) => typeof n === "string")) {
    throw new ProvmarkError("USAGE", "--class-names as JSON must be a list of strings", {
      subject: "--class-names",
    });
  }
  return list;
}
