import { randomBytes } from "node:crypto";
import { type FileHandle, mkdir, open, readFile, rename, rm, truncate } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { ProvmarkError } from "../../errors.js";
import { fsyncDir, writeFully } from "../../model/durable-io.js";
import { VERSION } from "../../version.js";

/**
 * The embedded chain's journal, `<stateDir>/journal.jsonl`: a header line, then one line per mined
 * block with its timestamp and the signed raw transactions it holds. Replaying it into a fresh
 * in-process network (same genesis time, same config) rebuilds the chain block for block.
 */

export const JOURNAL_FILE = "journal.jsonl";
export const JOURNAL_FORMAT = "provmark.chain-journal/v1";

const hex = z.string().regex(/^0x([0-9a-fA-F]{2})+$/, "expected 0x-prefixed hex bytes");
const hash32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "expected a 32-byte 0x-prefixed hash");
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "expected a 20-byte 0x-prefixed address");

export const journalHeaderSchema = z.object({
  format: z.literal(JOURNAL_FORMAT),
  chainId: z.literal(31337),
  hardfork: z.literal("cancun"),
  /** Unix seconds of block 0: replay passes it as the network's `initialDate`. */
  genesisTime: z.number().int().nonnegative(),
  createdBy: z.string(),
});
export type JournalHeader = z.infer<typeof journalHeaderSchema>;

export const journalTxSchema = z.object({
  /** The signed transaction as sent with eth_sendRawTransaction. */
  raw: hex,
  hash: hash32,
  /** Receipt status: 1 success, 0 reverted (a reverted transaction is mined too). */
  status: z.union([z.literal(0), z.literal(1)]),
  contractAddress: address.optional(),
});
export type JournalTx = z.infer<typeof journalTxSchema>;

export const journalBlockSchema = z.object({
  n: z.number().int().positive(),
  /** Block timestamp, unix seconds. */
  t: z.number().int().nonnegative(),
  txs: z.array(journalTxSchema),
});
export type JournalBlock = z.infer<typeof journalBlockSchema>;

/** A journal as read from disk; block `n` sits on line `n + 1` (the header is line 1). */
export interface JournalContents {
  path: string;
  header: JournalHeader;
  blocks: JournalBlock[];
  /** Bytes up to and including the last newline: what a writer keeps. */
  validBytes: number;
  /** Bytes after the last newline: a line torn by a crash mid-append, ignored. */
  tornBytes: number;
}

export const journalPath = (stateDir: string) => join(stateDir, JOURNAL_FILE);

export function newJournalHeader(genesisTime: number): JournalHeader {
  return {
    format: JOURNAL_FORMAT,
    chainId: 31337,
    hardfork: "cancun",
    genesisTime,
    createdBy: `provmark ${VERSION}`,
  };
}

/** CHAIN_JOURNAL_INVALID naming the journal file and line. */
export function journalInvalid(path: string, line: number, why: string, cause?: unknown): ProvmarkError {
  return new ProvmarkError("CHAIN_JOURNAL_INVALID", `${path}:${line}: ${why}`, {
    subject: path,
    ...(cause === undefined ? {} : { cause }),
    hints: [
      `Back the journal up (cp ${path} ${path}.bak): the chain state it records cannot be trusted.`,
      "It was edited or damaged; to start a fresh dev chain, move its directory aside (what was registered on it is then gone).",
    ],
  });
}

function describeZodError(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.length > 0 ? `${i.path.join(".")}: ` : ""}${i.message}`).join("; ");
}

function parseLine<T>(schema: z.ZodType<T>, text: string, path: string, line: number, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw journalInvalid(path, line, `${what} is not valid JSON (${(e as Error).message})`, e);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw journalInvalid(path, line, `malformed ${what}: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/**
 * Reads and checks the journal in `stateDir`: null when there is none. A torn last line (no
 * trailing newline) is ignored; any other malformed line, a gap in block numbers or a timestamp that
 * does not increase is CHAIN_JOURNAL_INVALID naming the line.
 */
export async function readJournal(stateDir: string): Promise<JournalContents | null> {
  const path = journalPath(stateDir);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new ProvmarkError("PATH_UNREADABLE", `cannot read ${path}: ${(e as Error).message}`, {
      subject: path,
      cause: e,
    });
  }
  const validBytes = bytes.lastIndexOf(0x0a) + 1;
  const lines = bytes.subarray(0, validBytes).toString("utf8").split("\n");
  lines.pop(); // the empty string after the last newline
  const [first, ...rest] = lines;
  if (first === undefined) throw journalInvalid(path, 1, "the journal has no header line");
  const header = parseLine(journalHeaderSchema, first, path, 1, "header");
  const blocks: JournalBlock[] = [];
  let previousTime = header.genesisTime;
  for (const [i, text] of rest.entries()) {
    const line = i + 2;
    const block = parseLine(journalBlockSchema, text, path, line, "block line");
    const expected = blocks.length + 1;
    if (block.n !== expected) {
      throw journalInvalid(path, line, `expected block ${expected}, found block ${block.n} (blocks are missing)`);
    }
    if (block.t < previousTime) {
      throw journalInvalid(path, line, `block ${block.n}'s timestamp ${block.t} is before ${previousTime}`);
    }
    previousTime = block.t;
    blocks.push(block);
  }
  return { path, header, blocks, validBytes, tornBytes: bytes.length - validBytes };
}

function writeFailed(path: string, e: unknown): ProvmarkError {
  return new ProvmarkError("OUTPUT_WRITE_FAILED", `could not write ${path}: ${(e as Error).message}`, {
    subject: path,
    cause: e,
  });
}

/**
 * Creates `stateDir` (mode 0700) and a journal holding only `header`, atomically: written to a
 * temp file, synced, renamed into place. The caller holds the chain lock.
 */
export async function createJournal(stateDir: string, header: JournalHeader): Promise<void> {
  const path = journalPath(stateDir);
  const tmp = join(stateDir, `.${JOURNAL_FILE}.tmp-${randomBytes(6).toString("hex")}`);
  try {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const handle = await open(tmp, "wx", 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(header)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    await fsyncDir(stateDir);
  } catch (e) {
    await rm(tmp, { force: true });
    throw writeFailed(path, e);
  }
}

/** Appends block lines to a journal, each synced to disk before `append` resolves. */
export class JournalWriter {
  readonly path: string;
  readonly #handle: FileHandle;
  /** Bytes of whole lines: a failed append is cut back to this. */
  #size: number;
  /** Set when a failed append could not be cut back; the journal then takes no more blocks. */
  #broken: unknown = undefined;

  private constructor(path: string, handle: FileHandle, size: number) {
    this.path = path;
    this.#handle = handle;
    this.#size = size;
  }

  /** Opens `contents`' journal for appending, first cutting away a torn last line. */
  static async open(contents: JournalContents): Promise<JournalWriter> {
    const { path } = contents;
    try {
      if (contents.tornBytes > 0) await truncate(path, contents.validBytes);
      return new JournalWriter(path, await open(path, "a"), contents.validBytes);
    } catch (e) {
      throw writeFailed(path, e);
    }
  }

  async append(block: JournalBlock): Promise<void> {
    if (this.#broken !== undefined) throw writeFailed(this.path, this.#broken);
    const line = Buffer.from(`${JSON.stringify(block)}\n`);
    try {
      await writeFully(this.#handle, line);
      await this.#handle.sync();
    } catch (e) {
      // half a block line must not stay in front of the next one
      await this.#handle.truncate(this.#size).catch((t: unknown) => {
        this.#broken = t;
      });
      throw writeFailed(this.path, e);
    }
    this.#size += line.length;
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}
