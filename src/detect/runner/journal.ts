import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, truncate } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { ProvmarkError } from "../../errors.js";
import { fsyncDir, writeFully } from "../../model/durable-io.js";
import { VERSION } from "../../version.js";
import { FAILURE_KINDS, type FailureKind } from "../adapters/types.js";
import { BodyLog } from "./body-log.js";

/**
 * The run journal, `<runDir>/answers.jsonl`: a header line naming the suspect, then one line per
 * query and batch sent, `{id, result, exchange, batch: {index, size}}`, appended and fsync'd per
 * batch. Raw bodies live in `<runDir>/bodies.log` (see body-log.ts), synced before the lines that
 * name them.
 */

export const ANSWERS_FILE = "answers.jsonl";
export const RUN_JOURNAL_FORMAT = "provmark.detect-journal/v1";

const sha = z.string().regex(/^[0-9a-f]{64}$/);

export const journalHeaderSchema = z.object({
  format: z.literal(RUN_JOURNAL_FORMAT),
  protocol: z.enum(["tfserving", "kserve", "json", "raw", "local", "url"]),
  /** The suspect (URL without credentials or query, or a local path). */
  target: z.string(),
  /** How queries went on the wire when not as tensors (absent: tensors, as before encodings existed). */
  encoding: z.enum(["png", "jpeg"]).optional(),
  createdBy: z.string(),
});
export type RunJournalHeader = z.infer<typeof journalHeaderSchema>;

const itemResultSchema = z.union([
  z.object({ ok: z.literal(true), label: z.number().int().nonnegative(), scores: z.array(z.number()).exactOptional() }),
  z.object({
    ok: z.literal(false),
    failure: z.enum(FAILURE_KINDS as [FailureKind, ...FailureKind[]]),
    detail: z.string(),
  }),
]);

/** How a response body came (see ResponseMeta); absent in journals of earlier versions. */
export const responseMetaSchema = z.object({
  encoding: z.string().nullable(),
  headers: z.object({ date: z.string().nullable(), server: z.string().nullable(), contentType: z.string().nullable() }),
  withheld: z.string().exactOptional(),
});

const exchangeSchema = z.object({
  requestSha256: sha,
  responseSha256: sha.nullable(),
  response: responseMetaSchema.exactOptional(),
  status: z.number().int().nullable(),
  startedAt: z.string(),
  ms: z.number().nonnegative(),
  requestBytes: z.number().int().nonnegative(),
  responseBytes: z.number().int().nonnegative(),
});

export const journalLineSchema = z.object({
  id: z.string().min(1),
  result: itemResultSchema,
  exchange: exchangeSchema,
  /** The item's position in its request, so `adapter.parse(body, size)[index]` re-derives `result`. */
  batch: z.object({ index: z.number().int().nonnegative(), size: z.number().int().positive() }),
});
export type JournalLine = z.infer<typeof journalLineSchema>;

export const answersPath = (runDir: string) => join(runDir, ANSWERS_FILE);

const invalid = (path: string, why: string, hints: string[] = []) =>
  new ProvmarkError("DETECT_JOURNAL_INVALID", `${path}: ${why}`, {
    subject: path,
    hints: hints.length > 0 ? hints : ["The run journal was edited or damaged; start a fresh run directory."],
  });

export interface JournalScan {
  header: RunJournalHeader | null;
  /** Bytes up to and including the last newline. */
  validBytes: number;
  /** Bytes after the last newline: a line torn by a crash mid-append, ignored. */
  tornBytes: number;
}

/**
 * Streams the journal's lines to `onLine` (so memory stays flat); null when there is no journal.
 * A torn last line is ignored; any other malformed line is an error naming it.
 */
export async function scanJournal(runDir: string, onLine: (line: JournalLine) => void): Promise<JournalScan | null> {
  const path = answersPath(runDir);
  const size = await stat(path).then(
    (s) => s.size,
    (e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return null;
      throw new ProvmarkError("PATH_UNREADABLE", `cannot read ${path}: ${e.message}`, { subject: path, cause: e });
    },
  );
  if (size === null) return null;
  let header: RunJournalHeader | null = null;
  let lineNo = 0;
  const handle = (text: string) => {
    lineNo++;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw invalid(path, `line ${lineNo} is not JSON`);
    }
    if (lineNo === 1) {
      const h = journalHeaderSchema.safeParse(json);
      if (!h.success) throw invalid(path, "the first line is not a provmark run journal header");
      header = h.data;
      return;
    }
    const l = journalLineSchema.safeParse(json);
    if (!l.success) throw invalid(path, `line ${lineNo} is not a journal entry (${l.error.issues[0]?.message})`);
    onLine(l.data);
  };
  let pending: Buffer[] = [];
  if (size > 0) {
    for await (const chunk of createReadStream(path, { end: size - 1 }) as AsyncIterable<Buffer>) {
      let from = 0;
      for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, from)) {
        pending.push(chunk.subarray(from, nl));
        handle(Buffer.concat(pending).toString("utf8"));
        pending = [];
        from = nl + 1;
      }
      if (from < chunk.length) pending.push(chunk.subarray(from));
    }
  }
  const tornBytes = pending.reduce((a, b) => a + b.length, 0);
  return { header, validBytes: size - tornBytes, tornBytes };
}

export interface OpenedJournal {
  writer: RunJournalWriter;
  /** Lines of earlier runs: per id, its first ok line, else its last line. */
  previous: Map<string, JournalLine>;
  /** Bytes of a torn last line that were cut away. */
  truncatedBytes: number;
}

/**
 * Opens (or creates) the journal of `runDir` for `suspect`: loads what earlier runs recorded, cuts a
 * torn last line, removes temp files a crash left, and refuses a journal made for another suspect.
 */
export async function openRunJournal(
  runDir: string,
  suspect: { protocol: RunJournalHeader["protocol"]; target: string; encoding?: "png" | "jpeg" },
): Promise<OpenedJournal> {
  const path = answersPath(runDir);
  const previous = new Map<string, JournalLine>();
  try {
    await mkdir(runDir, { recursive: true });
  } catch (e) {
    throw new ProvmarkError("OUTPUT_WRITE_FAILED", `cannot create ${runDir}: ${(e as Error).message}`, {
      subject: runDir,
      cause: e,
    });
  }
  const scan = await scanJournal(runDir, (line) => {
    const had = previous.get(line.id);
    if (had === undefined || !had.result.ok) previous.set(line.id, line);
  });
  // temp files a crash left behind (the journal's header, being written)
  for (const f of await readdir(runDir))
    if (f.startsWith(`.${ANSWERS_FILE}.tmp-`)) await rm(join(runDir, f), { force: true });
  if (scan?.header != null) {
    const h = scan.header;
    const enc = (e: string | undefined) => (e === undefined ? "" : ` (${e} images)`);
    if (h.protocol !== suspect.protocol || h.target !== suspect.target || h.encoding !== suspect.encoding) {
      throw invalid(
        path,
        `this run directory queried ${h.protocol} ${h.target}${enc(h.encoding)}, not ${suspect.protocol} ${suspect.target}${enc(suspect.encoding)}`,
        ["Resume with the same suspect, or choose a fresh run directory for this one."],
      );
    }
    if (scan.tornBytes > 0)
      await truncate(path, scan.validBytes).catch((e: unknown) => {
        throw writeFailed(path, e);
      });
    return { writer: await RunJournalWriter.open(runDir), previous, truncatedBytes: scan.tornBytes };
  }
  // No journal (or only a torn header): create one atomically.
  const header: RunJournalHeader = { format: RUN_JOURNAL_FORMAT, ...suspect, createdBy: `provmark ${VERSION}` };
  await writeSynced(runDir, path, Buffer.from(`${JSON.stringify(header)}\n`));
  const writer = await RunJournalWriter.open(runDir);
  // the new journal's and body log's directory entries must survive a crash too
  await fsyncDir(runDir).catch((e: unknown) => {
    throw writeFailed(runDir, e);
  });
  return { writer, previous, truncatedBytes: scan?.tornBytes ?? 0 };
}

function writeFailed(path: string, e: unknown): ProvmarkError {
  return new ProvmarkError("OUTPUT_WRITE_FAILED", `could not write ${path}: ${(e as Error).message}`, {
    subject: path,
    cause: e,
  });
}

/** Writes `data` to `path` via a synced temp file and a rename (no half-written file, ever). */
async function writeSynced(dir: string, path: string, data: Uint8Array): Promise<void> {
  const tmp = join(dir, `.${path.slice(dir.length + 1)}.tmp-${randomBytes(6).toString("hex")}`);
  try {
    const h = await open(tmp, "wx", 0o644);
    try {
      await h.writeFile(data);
      await h.sync();
    } finally {
      await h.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw writeFailed(path, e);
  }
}

type Lines = readonly JournalLine[];
type Bodies = readonly { sha256: string; bytes: Uint8Array }[];

/**
 * Appends batches with group commit: batches that arrive while a write is under way are written
 * together in the next one, so a run at concurrency 16 pays one journal fsync per group rather than
 * one per request. Order of lines follows the order `append` was called.
 */
export class RunJournalWriter {
  readonly #runDir: string;
  readonly #handle: FileHandle;
  readonly #bodies: BodyLog;
  /** Bytes of whole lines in the file: a failed append is cut back to this. */
  #size: number;
  /** Set when a failed append could not be cut back: the file's tail is unknown, so nothing more is written. */
  #broken: unknown = undefined;
  #pending: { lines: Lines; bodies: Bodies; done: (e?: unknown) => void }[] = [];
  #draining: Promise<void> | null = null;

  private constructor(runDir: string, handle: FileHandle, bodies: BodyLog, size: number) {
    this.#runDir = runDir;
    this.#handle = handle;
    this.#bodies = bodies;
    this.#size = size;
  }

  static async open(runDir: string): Promise<RunJournalWriter> {
    const path = answersPath(runDir);
    const bodies = await BodyLog.open(runDir);
    let handle: FileHandle | undefined;
    try {
      handle = await open(path, "a");
      return new RunJournalWriter(runDir, handle, bodies, (await handle.stat()).size);
    } catch (e) {
      await handle?.close();
      await bodies.close();
      throw writeFailed(path, e);
    }
  }

  /**
   * Stores the bodies (skipping those present), then appends the lines and fsyncs: when this
   * resolves, the batch is durable and may be counted.
   */
  append(lines: Lines, bodies: Bodies): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      this.#pending.push({ lines, bodies, done: (e) => (e === undefined ? resolve() : reject(e)) });
    });
    this.#draining ??= this.#drain();
    return done;
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const group = this.#pending.splice(0);
      try {
        await this.#write(
          group.flatMap((g) => g.lines),
          group.flatMap((g) => g.bodies),
        );
        for (const g of group) g.done();
      } catch (e) {
        for (const g of group) g.done(e);
      }
    }
    this.#draining = null;
  }

  async #write(lines: Lines, bodies: Bodies): Promise<void> {
    const path = answersPath(this.#runDir);
    if (this.#broken !== undefined) throw writeFailed(path, this.#broken);
    await this.#bodies.appendAll(bodies);
    const text = Buffer.from(lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
    try {
      await writeFully(this.#handle, text);
      await this.#handle.sync();
    } catch (e) {
      // A part of the group may be on disk: cut it off, or later lines would follow half a line.
      await this.#handle.truncate(this.#size).catch((t: unknown) => {
        this.#broken = t;
      });
      throw writeFailed(path, e);
    }
    this.#size += text.length;
  }

  async close(): Promise<void> {
    await this.#draining;
    await this.#handle.close();
    await this.#bodies.close();
  }
}
