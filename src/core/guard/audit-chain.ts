/**
 * The guard's audit log as a hash chain: each entry's hash is SHA-256(previous hash ‖ canonical
 * JSON of the entry), so deleting, rewriting or reordering an entry breaks every later hash, and
 * an anchored head (hash and count) exposes a truncated tail. Pure: the caller reads and writes the
 * lines (one JSON object per line).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { canonicalJson } from "../canonical-json.js";
import { toHex, utf8 } from "../digest/bytes.js";

export const GENESIS_HASH = "0".repeat(64);

export type AuditDecision =
  | "forwarded"
  | "altered"
  | "refused-401"
  | "refused-403"
  | "refused-429"
  | "blocked"
  | "rejected"
  | "upstream-error"
  | "served";

/** What the guard records of one request; bodies are never stored, only their SHA-256. */
export interface AuditRecord {
  time: string;
  /** The key's id, or null when no valid key was given. */
  client: string | null;
  method: string;
  path: string;
  requestSha256: string;
  responseSha256: string;
  status: number;
  decision: AuditDecision;
  altered: boolean;
  note?: string;
}

export interface AuditEntry extends AuditRecord {
  /** 0-based position in the log. */
  seq: number;
  prev: string;
  hash: string;
}

/** SHA-256(prev ‖ canonical JSON of the entry without its hash), hex. */
export function entryHash(prev: string, entry: Omit<AuditEntry, "hash">): string {
  const body = utf8(canonicalJson(entry));
  const p = utf8(prev);
  const joined = new Uint8Array(p.length + body.length);
  joined.set(p, 0);
  joined.set(body, p.length);
  return toHex(sha256(joined));
}

/** The next entry after `head` (GENESIS_HASH and seq 0 for the first). */
export function chainEntry(head: { hash: string; count: number }, record: AuditRecord): AuditEntry {
  const unhashed = { ...record, seq: head.count, prev: head.hash };
  return { ...unhashed, hash: entryHash(head.hash, unhashed) };
}

export interface ChainProblem {
  /** 1-based line number. */
  line: number;
  what: string;
}

export interface ChainCheck {
  ok: boolean;
  /** Entries that verified, in order (up to the first problem). */
  count: number;
  head: string;
  problems: ChainProblem[];
  /** The last line is incomplete (a crash mid-append): reported, not counted. */
  tornTail: boolean;
}

/** Checks a log's text: every line parses, links to the previous hash and hashes to itself. */
export function verifyChain(text: string): ChainCheck {
  const lines = text.split("\n");
  const endsClean = text === "" || text.endsWith("\n");
  if (lines.at(-1) === "") lines.pop();
  const problems: ChainProblem[] = [];
  let head = GENESIS_HASH;
  let count = 0;
  let tornTail = false;
  for (const [i, line] of lines.entries()) {
    const last = i === lines.length - 1;
    let e: AuditEntry;
    try {
      e = JSON.parse(line) as AuditEntry;
    } catch {
      if (last && !endsClean) {
        tornTail = true;
        break;
      }
      problems.push({ line: i + 1, what: "not JSON" });
      break;
    }
    if (typeof e !== "object" || e === null || typeof e.hash !== "string") {
      problems.push({ line: i + 1, what: "not an audit entry" });
      break;
    }
    if (e.seq !== count) {
      problems.push({ line: i + 1, what: `seq ${String(e.seq)} where ${count} was expected (deleted or reordered)` });
      break;
    }
    if (e.prev !== head) {
      problems.push({ line: i + 1, what: "prev does not link to the entry before (deleted, inserted or reordered)" });
      break;
    }
    const { hash, ...rest } = e;
    if (entryHash(head, rest) !== hash) {
      problems.push({ line: i + 1, what: "hash does not match the entry (rewritten)" });
      break;
    }
    head = hash;
    count++;
  }
  return { ok: problems.length === 0 && !tornTail, count, head, problems, tornTail };
}

/** A head recorded elsewhere (on chain): the log had `count` entries and its last hash was `head`. */
export interface AnchoredHead {
  head: string;
  count: number;
}

/**
 * Whether a verified log still holds each anchored head: entry count-1's hash must be the anchored
 * one. Needs the entries' hashes in order (a log that lost its tail fails: fewer entries).
 */
export function checkAnchors(hashes: readonly string[], anchors: readonly AnchoredHead[]): ChainProblem[] {
  const problems: ChainProblem[] = [];
  for (const a of anchors) {
    if (a.count === 0) continue;
    if (hashes.length < a.count) {
      problems.push({
        line: hashes.length + 1,
        what: `anchored at ${a.count} entries, the log has ${hashes.length} (truncated)`,
      });
    } else if (hashes[a.count - 1] !== a.head) {
      problems.push({ line: a.count, what: `entry ${a.count} does not hash to the anchored head (rewritten history)` });
    }
  }
  return problems;
}

/** The hashes of a log's entries that verify, in order. */
export function entryHashes(text: string): string[] {
  const check = verifyChain(text);
  const out: string[] = [];
  for (const line of text.split("\n").slice(0, check.count)) out.push((JSON.parse(line) as AuditEntry).hash);
  return out;
}
