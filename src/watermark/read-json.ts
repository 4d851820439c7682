import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { z } from "zod";
import { type Certificate, certificateSchema } from "../core/watermark/certificate.js";
import { type ErrorCode, fromFsError, ProvmarkError } from "../errors.js";
import { CERTIFICATE_FILE } from "./embed-defaults.js";

/** A file's JSON value, or a coded error naming the file when it is unreadable or not JSON. */
export async function readJsonValue(path: string, code: ErrorCode = "USAGE"): Promise<unknown> {
  const text = await readFile(path, "utf8").catch((e: unknown) => {
    throw fromFsError(e, path);
  });
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ProvmarkError(code, `${path} is not valid JSON: ${(e as Error).message}`, { subject: path, cause: e });
  }
}

/**
 * A JSON file validated by a zod schema; a coded error naming the file (and the first schema
 * problems as hints) when it is unreadable, not JSON, or not what `what` says.
 */
export async function readJsonFile<S extends z.ZodType>(
  path: string,
  schema: S,
  what: string,
  code: ErrorCode = "USAGE",
): Promise<z.infer<S>> {
  const r = schema.safeParse(await readJsonValue(path, code));
  if (!r.success) {
    throw new ProvmarkError(code, `${path} is not a ${what}`, {
      subject: path,
      hints: r.error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
    });
  }
  return r.data;
}

/** A watermark certificate given as a file, or as a marked model directory holding one. */
export async function readCertificate(path: string): Promise<Certificate> {
  const st = await stat(path).catch((e: unknown) => {
    throw fromFsError(e, path);
  });
  const file = st.isDirectory() ? join(path, CERTIFICATE_FILE) : path;
  return readJsonFile(file, certificateSchema, "provmark watermark certificate");
}
