/** What the guard answers a request, and how its audit entry records it. */
import type { AuditDecision } from "../core/guard/audit-chain.js";

/** A finished answer: what was sent and how the audit log records it. */
export interface Outcome {
  status: number;
  body: string | Buffer;
  headers?: Record<string, string>;
  decision: AuditDecision;
  altered?: boolean;
  note?: string;
}

export const refusal = (
  status: number,
  error: string,
  decision: AuditDecision,
  headers: Record<string, string> = {},
): Outcome => ({
  status,
  body: JSON.stringify({ error }),
  headers,
  decision,
});
