import { createHash } from "node:crypto";
import { constants, type FileHandle, lstat, open, readFile } from "node:fs/promises";
import { canonicalJson } from "../core/canonical-json.js";
import { toHex } from "../core/digest/bytes.js";
import { inputSize, type ModelIO } from "../core/input/model-io.js";
import { dawnLogKey, keyCommitment } from "../core/keys/derive.js";
import { fromFsError, ProvmarkError } from "../errors.js";
import { writeFileAtomic } from "../model/atomic-write.js";
import { writeFully } from "../model/durable-io.js";
import {
  DAWN_LOG_SCHEMA,
  type DawnLogHeader,
  headerAuthentic,
  headerDigest,
  openRecord,
  parseHeaderLine,
  sealHeader,
  sealRecord,
} from "./dawn-log-records.js";

/** One answer the guard altered (DAWN): what the client sent, what it got, what the model said. */
export interface DawnRecord {
  seq: number;
  client: string;
  /** ISO 8601. */
  time: string;
  shape: number[];
  /** The model-space row as the guard decoded it (preprocessing applied). */
  input: Float32Array;
  /** The guard's hash of the input: the detector counts records of one hash once. */
  inputSha256: string;
  /** What the guard answered (the altered label). */
  servedLabel: number;
  /** What the model said. */
  modelLabel: number;
  classes: number;
}

export interface DawnLogMeta {
  modelIO: ModelIO;
  rate: number;
  /** keyCommitment(seed), hex. */
  keyCommitment: string;
}

export interface DawnLogWriter {
  /** Seals and appends one record, fsync'd before it resolves; concurrent calls are serialized. */
  append(r: Omit<DawnRecord, "seq">): Promise<void>;
  close(): Promise<void>;
}

export interface DawnLog {
  meta: DawnLogMeta & { createdAt: string };
  records: DawnRecord[];
  /** A torn last record (a crash mid-append), ignored. */
  warnings: string[];
  /** SHA-256 of the log's bytes as read (the torn tail included): what an evidence report cites. */
  sha256: string;
}

const f32Base64 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
const base64F32 = (s: string) => {
  const b = Buffer.from(s, "base64");
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b.subarray(0, out.length * 4));
  return { values: out, exact: b.length % 4 === 0 };
};

/**
 * Opens (or creates, 0600) the DAWN watermark log at `path` for appending. `seed` is the owner's
 * watermark key seed: the records' AES-256-GCM key is derived from it (dawnLogKey), and the header
 * records its commitment. An existing log must have been written for the same model, rate and key;
 * a torn last record (a crash mid-append) is cut off before the next append.
 *
 * @example
 * const log = await openDawnLogWriter("dawn.log", key.seed, { modelIO, rate: 0.05, keyCommitment: hex });
 * await log.append({ client, time, shape, input, inputSha256, servedLabel, modelLabel, classes: 10 });
 */
export async function openDawnLogWriter(path: string, seed: Uint8Array, meta: DawnLogMeta): Promise<DawnLogWriter> {
  const commitment = toHex(keyCommitment(seed));
  if (meta.keyCommitment !== commitment) {
    throw new ProvmarkError("DAWN_LOG_WRONG_KEY", "the key does not match the key commitment given for the log", {
      subject: path,
    });
  }
  const aes = dawnLogKey(seed);
  let header: DawnLogHeader;
  let seq = 0;
  const exists = await lstat(path).then(
    () => true,
    (e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return false;
      throw fromFsError(e, path);
    },
  );
  if (!exists) {
    header = {
      schema: DAWN_LOG_SCHEMA,
      createdAt: new Date().toISOString(),
      modelIO: meta.modelIO,
      rate: meta.rate,
      keyCommitment: commitment,
    };
    // Renamed into place complete: a crash leaves no log or a log with its whole header, never half one.
    await writeFileAtomic(path, sealHeader(aes, header), 0o600);
  } else {
    const existing = await readDawnLogFile(path, seed);
    const same =
      canonicalJson(existing.header.modelIO) === canonicalJson(meta.modelIO) && existing.header.rate === meta.rate;
    if (!same) {
      throw new ProvmarkError("DAWN_LOG_INVALID", `${path} was written for another model or rate`, {
        subject: path,
        hints: ["Give each model and rate its own DAWN log."],
      });
    }
    header = existing.header;
    seq = existing.log.records.length;
    // A torn record would merge with the next one: cut it (it was never acknowledged).
    if (existing.goodBytes < existing.totalBytes) {
      const h = await open(path, "r+");
      try {
        await h.truncate(existing.goodBytes);
        await h.sync();
      } finally {
        await h.close();
      }
    }
  }
  const handle: FileHandle = await open(path, constants.O_WRONLY | constants.O_APPEND).catch((e: unknown) => {
    throw fromFsError(e, path, "open");
  });
  const headerSha = headerDigest(header);
  const io = meta.modelIO;
  let queue: Promise<void> = Promise.resolve();
  let closed = false;
  const write = async (r: Omit<DawnRecord, "seq">) => {
    if (closed) throw new Error("the DAWN log writer is closed");
    if (r.input.length !== inputSize(io.input) || r.shape.reduce((a, b) => a * b, 1) !== r.input.length) {
      throw new RangeError(
        `a DAWN record's input has ${r.input.length} values, the model takes ${inputSize(io.input)}`,
      );
    }
    const c = io.classes.count;
    const label = (l: number) => Number.isInteger(l) && l >= 0 && l < c;
    if (r.classes !== c || !label(r.servedLabel) || !label(r.modelLabel) || r.servedLabel === r.modelLabel) {
      throw new RangeError(
        `a DAWN record must be an altered answer of the model's ${c} classes (served ${r.servedLabel}, model ${r.modelLabel}, classes ${r.classes})`,
      );
    }
    const line = sealRecord(aes, headerSha, {
      seq,
      client: r.client,
      time: r.time,
      shape: [...r.shape],
      input: f32Base64(r.input),
      inputSha256: r.inputSha256,
      servedLabel: r.servedLabel,
      modelLabel: r.modelLabel,
      classes: r.classes,
    });
    await writeFully(handle, line);
    await handle.sync();
    seq++;
  };
  return {
    append: (r) => {
      const next = queue.then(() => write(r));
      queue = next.catch(() => {});
      return next;
    },
    close: async () => {
      await queue;
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
}

/**
 * Reads and authenticates a DAWN log with the owner's key seed: every record is decrypted and checked
 * (a wrong key → DAWN_LOG_WRONG_KEY; a damaged record → DAWN_LOG_INVALID or DAWN_LOG_DECRYPT_FAILED
 * naming it); a torn last record is ignored with a warning. `client` keeps that client's records only.
 */
export async function readDawnLog(path: string, seed: Uint8Array, opts: { client?: string } = {}): Promise<DawnLog> {
  const { log } = await readDawnLogFile(path, seed);
  return opts.client === undefined ? log : { ...log, records: log.records.filter((r) => r.client === opts.client) };
}

async function readDawnLogFile(path: string, seed: Uint8Array) {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw fromFsError(e, path);
  }
  const invalid = (msg: string, code: "DAWN_LOG_INVALID" | "DAWN_LOG_DECRYPT_FAILED" = "DAWN_LOG_INVALID") =>
    new ProvmarkError(code, `${path}: ${msg}`, {
      subject: path,
      hints: ["The log was altered or is not a provmark DAWN log; restore it from a backup."],
    });
  const text = bytes.toString("utf8");
  const lines = text.split("\n");
  // After the last "\n" comes either nothing or a record whose append was cut short.
  const torn = lines.pop() as string;
  const first = lines.shift();
  const parsed = first === undefined ? null : parseHeaderLine(first);
  if (parsed === null) throw invalid("no DAWN log header (line 1)");
  const aes = dawnLogKey(seed);
  if (parsed.header.keyCommitment !== toHex(keyCommitment(seed))) {
    throw new ProvmarkError("DAWN_LOG_WRONG_KEY", `${path} was written with another key file`, {
      subject: path,
      hints: [`The log's key commitment is ${parsed.header.keyCommitment}; use the key file the guard ran with.`],
    });
  }
  if (!headerAuthentic(aes, parsed)) throw invalid("the header (line 1) was altered");
  const headerSha = headerDigest(parsed.header);
  const records: DawnRecord[] = [];
  for (const [i, line] of lines.entries()) {
    const opened = openRecord(aes, headerSha, line, i);
    if (!opened.ok) {
      throw invalid(
        `record ${i} (line ${i + 2}): ${opened.detail}`,
        opened.why === "decrypt" ? "DAWN_LOG_DECRYPT_FAILED" : "DAWN_LOG_INVALID",
      );
    }
    const p = opened.plain;
    const { values, exact } = base64F32(p.input);
    if (
      !exact ||
      values.length !== p.shape.reduce((a, b) => a * b, 1) ||
      values.length !== inputSize(parsed.header.modelIO.input) ||
      p.classes !== parsed.header.modelIO.classes.count ||
      p.servedLabel >= p.classes ||
      p.modelLabel >= p.classes ||
      p.servedLabel === p.modelLabel
    ) {
      throw invalid(`record ${i} (line ${i + 2}): not an altered answer of the log's model (input, classes or labels)`);
    }
    records.push({ ...p, input: values });
  }
  const warnings =
    torn === ""
      ? []
      : [
          `${path}: the last record (line ${lines.length + 2}) is torn (${torn.length} bytes, a crash mid-append?): ignored`,
        ];
  const goodBytes = bytes.lastIndexOf(0x0a) + 1;
  const { header } = parsed;
  const log: DawnLog = {
    meta: {
      modelIO: header.modelIO,
      rate: header.rate,
      keyCommitment: header.keyCommitment,
      createdAt: header.createdAt,
    },
    records,
    warnings,
    sha256: createHash("sha256").update(bytes).digest("hex"),
  };
  return { log, header, goodBytes, totalBytes: bytes.length };
}
