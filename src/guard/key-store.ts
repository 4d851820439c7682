/**
 * The running guard's view of its keys file: looked up per request, re-read when the file changes
 * (so `provmark guard keys revoke` takes effect within a second), updated by the admin routes.
 */
import { stat } from "node:fs/promises";
import {
  findKey,
  type KeyRecord,
  type KeysFile,
  newApiKey,
  newKeyId,
  type Role,
  readKeysFile,
  writeKeysFile,
} from "./keys-file.js";

export interface KeyStore {
  lookup(presented: string): Promise<KeyRecord | undefined>;
  list(): KeyRecord[];
  add(
    o: { name: string; role: Role; rate?: string; burst?: number; quota?: string },
    now: Date,
  ): Promise<{ key: string; record: KeyRecord }>;
  revoke(id: string, now: Date): Promise<KeyRecord | undefined>;
}

const RECHECK_MS = 1000;

export async function openKeyStore(path: string, onReloadError: (e: unknown) => void): Promise<KeyStore> {
  let file: KeysFile = await readKeysFile(path);
  let mtime = (await stat(path)).mtimeMs;
  let checkedAt = Date.now();
  const refresh = async () => {
    if (Date.now() - checkedAt < RECHECK_MS) return;
    checkedAt = Date.now();
    try {
      const m = (await stat(path)).mtimeMs;
      if (m !== mtime) {
        file = await readKeysFile(path);
        mtime = m;
      }
    } catch (e) {
      onReloadError(e);
    }
  };
  const save = async (next: KeysFile) => {
    await writeKeysFile(path, next);
    file = next;
    mtime = (await stat(path)).mtimeMs;
  };
  return {
    async lookup(presented) {
      await refresh();
      return findKey(file, presented);
    },
    list: () => file.keys.map((k) => ({ ...k })),
    async add(o, now) {
      const { key, sha256 } = newApiKey();
      const record: KeyRecord = {
        id: newKeyId(),
        name: o.name,
        role: o.role,
        sha256,
        createdAt: now.toISOString(),
        ...(o.rate === undefined ? {} : { rate: o.rate }),
        ...(o.burst === undefined ? {} : { burst: o.burst }),
        ...(o.quota === undefined ? {} : { quota: o.quota }),
      };
      await save({ ...file, keys: [...file.keys, record] });
      return { key, record };
    },
    async revoke(id, now) {
      const k = file.keys.find((x) => x.id === id);
      if (k === undefined) return undefined;
      const revoked = { ...k, revokedAt: k.revokedAt ?? now.toISOString() };
      await save({ ...file, keys: file.keys.map((x) => (x.id === id ? revoked : x)) });
      return revoked;
    },
  };
}

/** A key record without its hash, for listings. */
export const publicKeyRecord = ({ sha256: _, ...rest }: KeyRecord) => rest;
