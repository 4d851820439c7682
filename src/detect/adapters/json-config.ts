import { z } from "zod";
import { ProvmarkError } from "../../errors.js";
import { readJsonValue } from "../../watermark/read-json.js";
import { type PathSegment, parsePath } from "./json-path.js";

/**
 * Placeholders a request template may hold (as a whole JSON string value, exactly once). `_B64`:
 * the encoded image (`--encoding png|jpeg`) as one base64 string, instead of the model's numbers.
 */
export const SINGLE_PLACEHOLDERS = ["$INPUT", "$INPUT_FLAT", "$INPUT_B64"] as const;
export const BATCH_PLACEHOLDERS = ["$INPUTS", "$INPUTS_FLAT", "$INPUTS_B64"] as const;

/** Whether a placeholder stands for base64 encoded images rather than numbers. */
export const isImagePlaceholder = (p: string): boolean => p.endsWith("_B64");
export type Placeholder = (typeof SINGLE_PLACEHOLDERS)[number] | (typeof BATCH_PLACEHOLDERS)[number];

const pathString = z.string().refine(
  (p) => {
    try {
      parsePath(p);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not a path like "data.result" or "outputs[0].scores"' },
);

/** Where and how a JSON API's answer is read. */
export const responseSectionSchema = z.strictObject({
  /** Where the answer is: per instance, or (batched) an array with one answer per instance. */
  path: pathString.default(""),
  kind: z.enum(["label", "className", "topk", "probabilities"]),
  /** Class names in the model's class order: name → index by position. */
  classNames: z.array(z.string().min(1)).min(2).optional(),
  /** Inside each top-k entry, the path to its label or class name (default: label, class, className, name or index). */
  topkPath: pathString.optional(),
});
export type ResponseSection = z.infer<typeof responseSectionSchema>;

/** A generic JSON API, described by a file (see docs/detect-protocols.md). */
export const jsonApiConfigSchema = z
  .strictObject({
    /** The endpoint; `--endpoint` overrides it. */
    url: z.string().optional(),
    method: z.enum(["POST", "PUT"]).default("POST"),
    /** Values may be `env:VAR`. */
    headers: z.record(z.string(), z.string()).default({}),
    /** false: one instance per request ($INPUT / $INPUT_FLAT); n: up to n per request ($INPUTS / $INPUTS_FLAT). */
    batch: z.union([z.literal(false), z.number().int().min(1).max(1024)]).default(false),
    request: z.json(),
    response: responseSectionSchema,
    /** "model": the certificate's preprocessing (default); "pixel/255" or "pixel" override it. */
    scale: z.enum(["model", "pixel/255", "pixel"]).default("model"),
  })
  .superRefine((c, ctx) => {
    if (c.response.kind === "className" && c.response.classNames === undefined) {
      ctx.addIssue({ code: "custom", path: ["response", "classNames"], message: 'kind "className" needs classNames' });
    }
    const names = c.response.classNames ?? [];
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["response", "classNames"],
        message: `${JSON.stringify(dup)} appears twice`,
      });
    }
    const found = placeholders(c.request);
    const allowed: readonly string[] = c.batch === false ? SINGLE_PLACEHOLDERS : BATCH_PLACEHOLDERS;
    const want = allowed.map((p) => `"${p}"`).join(" or ");
    if (found.length !== 1 || !allowed.includes(found[0]?.placeholder as string)) {
      const saw = found.length === 0 ? "none" : found.map((f) => f.placeholder).join(", ");
      ctx.addIssue({
        code: "custom",
        path: ["request"],
        message: `needs exactly one ${want} placeholder ${c.batch === false ? "(batch is false)" : "(batch is a number)"}; found ${saw}`,
      });
    }
  });

export type JsonApiConfig = z.infer<typeof jsonApiConfigSchema>;

/** Every placeholder string in a template, with where it is. */
export function placeholders(
  template: unknown,
  at: PathSegment[] = [],
): { placeholder: string; path: PathSegment[] }[] {
  if (typeof template === "string") {
    return [...SINGLE_PLACEHOLDERS, ...BATCH_PLACEHOLDERS].includes(template as Placeholder)
      ? [{ placeholder: template, path: at }]
      : [];
  }
  if (Array.isArray(template)) return template.flatMap((v, i) => placeholders(v, [...at, i]));
  if (template !== null && typeof template === "object") {
    return Object.entries(template).flatMap(([k, v]) => placeholders(v, [...at, k]));
  }
  return [];
}

/** Reads and validates a config file; every problem is reported at once (USAGE naming the file). */
export async function loadJsonApiConfig(path: string): Promise<JsonApiConfig> {
  const raw = await readJsonValue(path, "USAGE");
  const parsed = jsonApiConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.length > 0 ? `${i.path.join(".")}: ` : ""}${i.message}`);
    throw new ProvmarkError("USAGE", `${path} is not a valid JSON API config: ${issues.join("; ")}`, {
      subject: path,
      hints: ["See docs/detect-protocols.md for the format and an example."],
    });
  }
  return parsed.data;
}
