import { z } from "zod";
import { ProvmarkError } from "../../errors.js";
import { responseSectionSchema } from "./json-config.js";
import { jsonResponseReader } from "./json-response.js";
import { parseKServe } from "./kserve.js";
import { parseLocal } from "./local-parse.js";
import { parseRawBody } from "./raw-answer.js";
import { parseTfServing } from "./tfserving.js";
import type { ItemResult } from "./types.js";

export interface ResponseParserOptions {
  classes: number;
  /**
   * json only: the config's `response` section (as kept in an evidence report). It may carry
   * `"batch": false | n` too; without it, whether an answer is batched is inferred from its shape.
   */
  responseConfig?: unknown;
  /** raw: the certificate's class names, which raw answers name. */
  classNames?: readonly string[] | undefined;
  /** kserve: the output that was read, when the model has several. */
  outputName?: string | undefined;
}

const responseConfigSchema = responseSectionSchema.extend({
  batch: z.union([z.literal(false), z.number().int().min(1)]).optional(),
});

/**
 * Re-reads stored response bodies with no adapter, network or config file: the item results of a
 * batch of `size`, exactly as the adapter of `protocol` derived them when it received the body.
 */
export function itemParser(
  protocol: string,
  o: ResponseParserOptions,
): (body: Uint8Array, size: number) => ItemResult[] {
  const C = o.classes;
  switch (protocol) {
    case "tfserving":
      return (b, n) => parseTfServing(b, n, C);
    case "kserve":
      return (b, n) => parseKServe(b, n, C, o.outputName);
    case "local":
    case "url":
      return (b, n) => parseLocal(b, n, C);
    case "raw": {
      const names = o.classNames ?? [];
      return (b, n) => parseRawBody(b, n, names);
    }
    case "json": {
      const parsed = responseConfigSchema.safeParse(o.responseConfig);
      if (!parsed.success) {
        throw new ProvmarkError("USAGE", "the report's responseConfig is not a JSON API response section", {
          subject: "responseConfig",
          hints: parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".")}: ${i.message}`),
        });
      }
      const { batch, ...section } = parsed.data;
      return jsonResponseReader(section, C, batch === undefined ? "infer" : batch !== false);
    }
    default:
      throw new ProvmarkError("USAGE", `unknown suspect protocol ${JSON.stringify(protocol)}`, { subject: "protocol" });
  }
}

/**
 * The labels (null for a failed item) a stored response body holds, for evidence re-checks.
 *
 * @example
 * const parse = responseParser(report.suspect.protocol, { classes: 10, responseConfig: report.suspect.responseConfig });
 * parse(body, 16)[3]; // the label of the 4th query of that request, or null
 */
export function responseParser(
  protocol: string,
  o: ResponseParserOptions,
): (body: Uint8Array, size: number) => (number | null)[] {
  const items = itemParser(protocol, o);
  return (body, size) => items(body, size).map((it) => (it.ok ? it.label : null));
}
