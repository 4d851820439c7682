import { decodeContentEncoding } from "../adapters/content-encoding.js";
import { MAX_RESPONSE_BYTES, sha256Hex } from "../adapters/http-exchange.js";
import type { ItemResult, SuspectAdapter } from "../adapters/types.js";
import { BodyLog } from "./body-log.js";
import { scanJournal } from "./journal.js";

export interface RecheckResult {
  /** Journal lines whose result was re-derived from a stored response body. */
  checked: number;
  /** Lines whose stored body is missing, altered, or parses to another result. */
  mismatches: { id: string; why: string }[];
}

/**
 * Re-derives every journaled result that came from a response body (HTTP 2xx, or local) with
 * `adapter.parse`, from the stored bodies alone (no network): the evidence check an auditor runs.
 * Each body's SHA-256 must match the journal. Failure details are not compared (they are redacted).
 *
 * @example
 * const { mismatches } = await recheckJournal("runs/suspect-1", adapter); // [] when the evidence holds
 */
export async function recheckJournal(runDir: string, adapter: Pick<SuspectAdapter, "parse">): Promise<RecheckResult> {
  const lines: Line[] = [];
  await scanJournal(runDir, (l) => {
    const { status, responseSha256, response } = l.exchange;
    if (responseSha256 !== null && (status === null || (status >= 200 && status < 300))) {
      lines.push({
        id: l.id,
        result: l.result,
        sha: responseSha256,
        index: l.batch.index,
        size: l.batch.size,
        encoding: response?.encoding ?? null,
        withheld: response?.withheld,
      });
    }
  });
  const mismatches: RecheckResult["mismatches"] = [];
  const bodies = await BodyLog.open(runDir, { readOnly: true });
  try {
    let cached: { key: string; items: ItemResult[] | string } | undefined;
    for (const l of lines) {
      const key = `${l.sha}/${l.size}/${l.encoding}`;
      if (cached?.key !== key) cached = { key, items: await reparse(bodies, l, adapter) };
      if (typeof cached.items === "string") {
        mismatches.push({ id: l.id, why: cached.items });
        continue;
      }
      const again = cached.items[l.index];
      if (again === undefined || !sameResult(again, l.result)) {
        mismatches.push({ id: l.id, why: `the stored body parses to ${JSON.stringify(again)}` });
      }
    }
    return { checked: lines.length, mismatches };
  } finally {
    await bodies.close();
  }
}

interface Line {
  id: string;
  result: ItemResult;
  sha: string;
  index: number;
  size: number;
  /** The recorded Content-Encoding, undone before parsing (the body is stored as received). */
  encoding: string | null;
  withheld: string | undefined;
}

async function reparse(
  bodies: BodyLog,
  l: Line,
  adapter: Pick<SuspectAdapter, "parse">,
): Promise<ItemResult[] | string> {
  const body = await bodies.read(l.sha);
  if (body === null) return `response body ${l.sha} is ${l.withheld ? `withheld (${l.withheld})` : "missing"}`;
  if (sha256Hex(body) !== l.sha) return `response body ${l.sha} was altered`;
  const decoded = decodeContentEncoding(body, l.encoding, MAX_RESPONSE_BYTES);
  // a body that never decoded was journaled as malformed items: re-derive exactly that
  if (!decoded.ok)
    return Array.from({ length: l.size }, () => ({ ok: false, failure: "malformed", detail: decoded.detail }));
  return adapter.parse(decoded.body, l.size);
}

function sameResult(a: ItemResult, b: ItemResult): boolean {
  if (a.ok && b.ok) return a.label === b.label && JSON.stringify(a.scores) === JSON.stringify(b.scores);
  if (!a.ok && !b.ok) return a.failure === b.failure;
  return false;
}
