import { ProvmarkError } from "../../errors.js";
import type { Role } from "../../guard/keys-file.js";
import { emit } from "../output.js";

export interface GuardKeysFlags {
  keys?: string;
  config?: string;
  json?: boolean;
}

/** The keys file: --keys, else the one --config names. */
async function keysPath(flags: GuardKeysFlags): Promise<string> {
  if (flags.keys !== undefined) return flags.keys;
  if (flags.config !== undefined) {
    const { loadGuardConfig } = await import("../../guard/guard-config.js");
    const c = await loadGuardConfig(flags.config);
    if (c.keysPath !== undefined) return c.keysPath;
  }
  throw new ProvmarkError("USAGE", "which keys file? pass --keys <file> or --config <guard.json>", {
    subject: "--keys",
  });
}

async function readOrEmpty(path: string) {
  const { emptyKeysFile, readKeysFile } = await import("../../guard/keys-file.js");
  const { existsSync } = await import("node:fs");
  return existsSync(path) ? readKeysFile(path) : emptyKeysFile();
}

export interface GuardKeysAddFlags extends GuardKeysFlags {
  name: string;
  role: Role;
  rate?: string;
  burst?: number;
  quota?: string;
}

/** Adds a key; prints it once (it is stored only as its SHA-256). */
export async function guardKeysAdd(flags: GuardKeysAddFlags): Promise<void> {
  const { keyRecordSchema, newApiKey, newKeyId, writeKeysFile } = await import("../../guard/keys-file.js");
  const path = await keysPath(flags);
  const file = await readOrEmpty(path);
  const { key, sha256 } = newApiKey();
  const parsed = keyRecordSchema.safeParse({
    id: newKeyId(),
    name: flags.name,
    role: flags.role,
    sha256,
    createdAt: new Date().toISOString(),
    ...(flags.rate === undefined ? {} : { rate: flags.rate }),
    ...(flags.burst === undefined ? {} : { burst: flags.burst }),
    ...(flags.quota === undefined ? {} : { quota: flags.quota }),
  });
  if (!parsed.success) {
    const { zodProblems } = await import("../../guard/keys-file.js");
    throw new ProvmarkError("USAGE", `bad key settings: ${zodProblems(parsed.error).join("; ")}`, {
      hints: ['Rates and quotas read like "20/s", "100/min", "10000/day".'],
    });
  }
  await writeKeysFile(path, { ...file, keys: [...file.keys, parsed.data] });
  const { sha256: _, ...shown } = parsed.data;
  emit({ ...shown, key, keysFile: path }, flags, (r) =>
    [
      `added ${r.role} key ${r.id} (${r.name}) to ${path}`,
      `  key: ${key}`,
      "  It is shown only now: the file keeps its SHA-256. Send it as Authorization: Bearer <key>.",
    ].join("\n"),
  );
}

/** Lists keys (never the keys themselves: the file has only their hashes, which are not shown either). */
export async function guardKeysList(flags: GuardKeysFlags): Promise<void> {
  const { readKeysFile } = await import("../../guard/keys-file.js");
  const { publicKeyRecord } = await import("../../guard/key-store.js");
  const file = await readKeysFile(await keysPath(flags));
  const keys = file.keys.map(publicKeyRecord);
  emit({ keys }, flags, (r) =>
    r.keys.length === 0
      ? "no keys"
      : r.keys
          .map(
            (k) =>
              `${k.id}  ${k.role.padEnd(7)}  ${k.name}  ${k.revokedAt ? `revoked ${k.revokedAt}` : "active"}` +
              `${k.rate ? `  rate ${k.rate}` : ""}${k.burst ? ` burst ${k.burst}` : ""}${k.quota ? `  quota ${k.quota}` : ""}`,
          )
          .join("\n"),
  );
}

export async function guardKeysRevoke(id: string, flags: GuardKeysFlags): Promise<void> {
  const { readKeysFile, writeKeysFile } = await import("../../guard/keys-file.js");
  const path = await keysPath(flags);
  const file = await readKeysFile(path);
  const k = file.keys.find((x) => x.id === id);
  if (k === undefined) {
    throw new ProvmarkError("GUARD_KEY_UNKNOWN", `no key ${id} in ${path}`, {
      subject: id,
      hints: ["`provmark guard keys list` shows the ids."],
    });
  }
  const revokedAt = k.revokedAt ?? new Date().toISOString();
  await writeKeysFile(path, { ...file, keys: file.keys.map((x) => (x.id === id ? { ...x, revokedAt } : x)) });
  emit({ id, revokedAt }, flags, () => `revoked ${id} (${k.name}); a running guard refuses it within a second`);
}
