/**
 * Anchors of an audit log's head on chain (one batch-anchor transaction each), recorded next to
 * the log in `<log>.anchors.json`, so a later deleted, rewritten or truncated entry is provable.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import {
  type AnchoredHead,
  type ChainProblem,
  checkAnchors,
  entryHashes,
  verifyChain,
} from "../core/guard/audit-chain.js";
import { fromFsError, ProvmarkError } from "../errors.js";
import type { LedgerOptions } from "../ledger/open-ledger.js";
import { writeFileAtomic } from "../model/atomic-write.js";
import { readAuditLog } from "./audit-log.js";
import { zodProblems } from "./keys-file.js";

export const anchorRecordSchema = z.strictObject({
  head: z.string().regex(/^[0-9a-f]{64}$/),
  count: z.number().int().min(1),
  txHash: z.string(),
  blockNumber: z.number().int(),
  chainId: z.string(),
  contract: z.string(),
  anchorer: z.string(),
  anchoredAt: z.string(),
});
export type AnchorRecord = z.infer<typeof anchorRecordSchema>;
const anchorsFileSchema = z.strictObject({
  schema: z.literal("provmark/guard-anchors/v1"),
  anchors: z.array(anchorRecordSchema),
});

export const anchorsPath = (log: string) => `${log}.anchors.json`;
/** A log's identity on chain: its first entry's hash, shortened. */
export const logId = (firstHash: string) => firstHash.slice(0, 16);
/** The batch label on chain: says what the root is and which log it belongs to. */
export const anchorLabel = (id: string, count: number) => `provmark-audit:${id}:${count}`;

export async function readAnchors(log: string): Promise<AnchorRecord[]> {
  const path = anchorsPath(log);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw fromFsError(e, path);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  const parsed = anchorsFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ProvmarkError(
      "GUARD_AUDIT_INVALID",
      `${path} is not an anchors file:\n  ${zodProblems(parsed.error).join("\n  ")}`,
      {
        subject: path,
      },
    );
  }
  return parsed.data.anchors;
}

export interface AuditVerification {
  log: string;
  ok: boolean;
  count: number;
  head: string;
  tornTail: boolean;
  problems: ChainProblem[];
  anchors: number;
  /** With --chain: each anchor confirmed by the registry (its root and count). */
  onChain?: { head: string; count: number; confirmed: boolean }[];
}

/** Checks the chain and every recorded anchor (on chain too when `ledger` is given). */
export async function verifyAuditLog(
  log: string,
  ledger?: Omit<LedgerOptions, "access">,
  anchorers: readonly string[] = [],
): Promise<AuditVerification> {
  const text = await readAuditLog(log);
  const check = verifyChain(text);
  const hashes = entryHashes(text);
  const anchors = await readAnchors(log);
  const heads: AnchoredHead[] = anchors.map((a) => ({ head: a.head, count: a.count }));
  const problems = [...check.problems, ...checkAnchors(hashes, heads)];
  const out: AuditVerification = {
    log,
    ok: check.ok && problems.length === 0,
    count: check.count,
    head: check.head,
    tornTail: check.tornTail,
    problems,
    anchors: anchors.length,
  };
  if (ledger !== undefined) {
    const { openLedger } = await import("../ledger/open-ledger.js");
    const { requireRegistry } = await import("../release/register-release.js");
    const l = await openLedger({ ...ledger, access: "read" });
    try {
      const registry = requireRegistry(l);
      out.onChain = [];
      for (const a of anchors) {
        const b = await registry.getBatch(a.anchorer, `0x${a.head}`);
        const confirmed = b !== null && b.count === a.count;
        out.onChain.push({ head: a.head, count: a.count, confirmed });
        if (!confirmed) {
          out.ok = false;
          out.problems.push({
            line: a.count,
            what: `the anchor of entry ${a.count} is not on chain (forged anchors file?)`,
          });
        }
      }
      // Anchors on chain that the anchors file no longer lists (it was edited to hide a cut) count too.
      const id = hashes[0] === undefined ? undefined : logId(hashes[0]);
      const trusted = new Set([
        ...anchors.map((a) => a.anchorer.toLowerCase()),
        ...anchorers.map((a) => a.toLowerCase()),
      ]);
      const prefix = id === undefined ? undefined : `provmark-audit:${id}:`;
      const listed = new Set(anchors.map((a) => `${a.head}:${a.count}`));
      for (const b of prefix === undefined ? [] : await registry.batchAnchors()) {
        if (!b.label.startsWith(prefix as string) || !trusted.has(b.anchorer.toLowerCase())) continue;
        const head = b.root.replace(/^0x/, "").toLowerCase();
        const count = Number(b.label.slice((prefix as string).length));
        if (listed.has(`${head}:${count}`)) continue;
        out.onChain.push({ head, count, confirmed: true });
        const extra = checkAnchors(hashes, [{ head, count }]);
        if (extra.length > 0) {
          out.ok = false;
          out.problems.push(...extra);
        }
      }
    } finally {
      await l.close();
    }
  }
  return out;
}

/** Anchors the log's current head (one transaction) and records it. */
export async function anchorAuditLog(log: string, ledger: Omit<LedgerOptions, "access">): Promise<AnchorRecord> {
  const text = await readAuditLog(log);
  const check = verifyChain(text);
  if (!check.ok || check.count === 0) {
    throw new ProvmarkError(
      "GUARD_AUDIT_INVALID",
      check.count === 0
        ? `${log} has no entries to anchor`
        : `${log} does not verify: ${check.problems[0]?.what ?? "torn last line"}`,
      { subject: log, hints: ["Run `provmark guard audit verify` to see where it breaks."] },
    );
  }
  const anchors = await readAnchors(log);
  const { openLedger } = await import("../ledger/open-ledger.js");
  const { requireRegistry } = await import("../release/register-release.js");
  const l = await openLedger({ ...ledger, access: "write" });
  let record: AnchorRecord;
  try {
    const registry = requireRegistry(l);
    const id = logId(entryHashes(text)[0] as string);
    const tx = await registry.anchorBatch(`0x${check.head}`, check.count, anchorLabel(id, check.count));
    record = {
      head: check.head,
      count: check.count,
      txHash: tx.txHash,
      blockNumber: tx.blockNumber,
      chainId: l.chainId.toString(),
      contract: registry.address,
      anchorer: await registry.signerAddress(),
      anchoredAt: new Date(tx.timestamp * 1000).toISOString(),
    };
  } finally {
    await l.close();
  }
  const file = { schema: "provmark/guard-anchors/v1", anchors: [...anchors, record] };
  await writeFileAtomic(anchorsPath(log), `${JSON.stringify(file, null, 2)}\n`);
  return record;
}
