/**
 * The guard's own routes under /provmark/: the audit log and alerts for auditors, key management
 * for admins. Answers are JSON; keys appear only in the answer that creates them.
 */
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import type { AuditDecision } from "../core/guard/audit-chain.js";
import { parseJson } from "../serve/http.js";
import type { AuditLog } from "./audit-log.js";
import { readAuditLog } from "./audit-log.js";
import type { GuardClient, GuardHooks } from "./hooks.js";
import { type KeyStore, publicKeyRecord } from "./key-store.js";
import { keyRecordSchema, ROLES, zodProblems } from "./keys-file.js";

export interface GuardRouteContext {
  req: IncomingMessage;
  path: string;
  client: GuardClient;
  body: () => Promise<Buffer>;
  keys: KeyStore | undefined;
  audit: AuditLog | undefined;
  hooks: GuardHooks;
  now: () => number;
}

interface RouteOutcome {
  status: number;
  body: string;
  decision: AuditDecision;
  headers?: Record<string, string>;
}

const ok = (v: unknown, status = 200): RouteOutcome => ({ status, body: JSON.stringify(v), decision: "served" });
const err = (status: number, error: string, decision: AuditDecision = "rejected"): RouteOutcome => ({
  status,
  body: JSON.stringify({ error }),
  decision,
});
const MAX_ENTRIES = 1000;

const addKeySchema = z.strictObject({
  name: z.string().min(1).max(200),
  role: z.enum(ROLES),
  rate: keyRecordSchema.shape.rate,
  burst: keyRecordSchema.shape.burst,
  quota: keyRecordSchema.shape.quota,
});

export async function handleGuardRoute(c: GuardRouteContext): Promise<RouteOutcome> {
  const method = c.req.method ?? "GET";
  const need = (role: GuardClient["role"]) =>
    c.client.role === role || c.client.role === "admin"
      ? undefined
      : err(403, `this route needs the ${role} role; this key has ${c.client.role}`, "refused-403");
  if (c.path === "/provmark/audit" && method === "GET") {
    const denied = need("auditor");
    if (denied) return denied;
    if (c.audit === undefined) return err(404, "this guard keeps no audit log");
    await c.audit.flushed();
    const text = await readAuditLog(c.audit.path);
    const lines = text.split("\n").filter((l) => l !== "");
    const since = Number(new URL(c.req.url ?? "/", "http://x").searchParams.get("since") ?? "0");
    const from = Number.isSafeInteger(since) && since >= 0 ? since : 0;
    const entries = lines.slice(from, from + MAX_ENTRIES).map((l) => JSON.parse(l) as unknown);
    return ok({ head: c.audit.head(), from, entries });
  }
  if (c.path === "/provmark/alerts" && method === "GET") {
    const denied = need("auditor");
    if (denied) return denied;
    return ok({ alerts: c.hooks.alerts?.() ?? [] });
  }
  if (c.path === "/provmark/keys" || c.path.startsWith("/provmark/keys/")) {
    const denied =
      c.client.role === "admin" ? undefined : err(403, "key management needs the admin role", "refused-403");
    if (denied) return denied;
    if (c.keys === undefined) return err(404, "this guard has no keys (auth is off)");
    if (c.path === "/provmark/keys" && method === "GET") return ok({ keys: c.keys.list().map(publicKeyRecord) });
    if (c.path === "/provmark/keys" && method === "POST") {
      const parsed = addKeySchema.safeParse(parseJson(await c.body()));
      if (!parsed.success) return err(400, zodProblems(parsed.error).join("; "));
      const o = parsed.data;
      const { key, record } = await c.keys.add(
        {
          name: o.name,
          role: o.role,
          ...(o.rate === undefined ? {} : { rate: o.rate }),
          ...(o.burst === undefined ? {} : { burst: o.burst }),
          ...(o.quota === undefined ? {} : { quota: o.quota }),
        },
        new Date(c.now()),
      );
      return ok({ key, ...publicKeyRecord(record) }, 201);
    }
    const id = c.path.slice("/provmark/keys/".length);
    if (id !== "" && method === "DELETE") {
      const r = await c.keys.revoke(decodeURIComponent(id), new Date(c.now()));
      return r === undefined ? err(404, `no key ${JSON.stringify(id)}`) : ok(publicKeyRecord(r));
    }
    return err(405, `${method} is not allowed on ${c.path}`);
  }
  return err(404, `no such guard route: ${method} ${c.path.slice(0, 200)}`);
}
