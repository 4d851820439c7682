import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { downloadSchema, type SuspectDownload } from "../../core/detect/evidence.js";
import { writeFileAtomic } from "../../model/atomic-write.js";
import { hashModel } from "../../model/hash-model.js";
import { displayTarget, parseEndpoint } from "../adapters/endpoint.js";
import { sha256Hex } from "../adapters/http-exchange.js";
import { DOWNLOAD_RECORD, SUSPECT_MODEL_DIR } from "../run-dir.js";
import { downloadModel } from "./download-model.js";

export interface UrlSuspectOptions {
  endpoint: string;
  runDir: string;
  maxBytes: number;
  timeoutMs: number;
  headers: Readonly<Record<string, string>>;
  signal: AbortSignal;
  onStage?: (stage: string) => void;
}

/** The suspect's target as plans and reports name it: the model.json URL without its query. */
export function urlTarget(endpoint: string): string {
  return displayTarget(parseEndpoint(endpoint, "--endpoint"));
}

/**
 * The suspect model of a `--protocol url` run, on disk in the run directory: fetched once, then
 * reused when the run resumes (so every answer comes from the same bytes), re-fetched when the kept
 * copy no longer matches its record. Returns the directory and the record for the evidence.
 */
export async function prepareUrlSuspect(o: UrlSuspectOptions): Promise<{ dir: string; download: SuspectDownload }> {
  const dir = join(o.runDir, SUSPECT_MODEL_DIR);
  const url = parseEndpoint(o.endpoint, "--endpoint");
  const kept = await keptDownload(o.runDir, dir, displayTarget(url));
  if (kept) {
    o.onStage?.(`reusing the model fetched from ${kept.url} for this run`);
    return { dir, download: kept };
  }
  o.onStage?.(`fetching ${displayTarget(url)} and its weight shards`);
  const files = await downloadModel({
    url,
    dir,
    maxBytes: o.maxBytes,
    timeoutMs: o.timeoutMs,
    headers: o.headers,
    signal: o.signal,
  });
  const digest = await hashModel(dir);
  const download: SuspectDownload = {
    url: displayTarget(url),
    files,
    weightsDigest: digest.weightsDigest as string,
    filesDigest: digest.filesDigest,
  };
  await writeFileAtomic(join(o.runDir, DOWNLOAD_RECORD), `${JSON.stringify(download, null, 2)}\n`);
  return { dir, download };
}

async function keptDownload(runDir: string, dir: string, url: string): Promise<SuspectDownload | null> {
  const text = await readFile(join(runDir, DOWNLOAD_RECORD), "utf8").catch(() => null);
  if (text === null) return null;
  let parsed: ReturnType<typeof downloadSchema.safeParse>;
  try {
    parsed = downloadSchema.safeParse(JSON.parse(text));
  } catch {
    return null;
  }
  if (!parsed.success || parsed.data.url !== url) return null;
  for (const f of parsed.data.files) {
    const bytes = await readFile(join(dir, f.name)).catch(() => null);
    if (bytes === null || sha256Hex(bytes) !== f.sha256) return null;
  }
  return parsed.data;
}
