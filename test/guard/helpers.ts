import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs";
import { parseGuardConfig } from "../../src/guard/guard-config.js";
import { type GuardOptions, type GuardServer, startGuard } from "../../src/guard/guard-server.js";
import { emptyKeysFile, type KeyRecord, newApiKey, writeKeysFile } from "../../src/guard/keys-file.js";
import type { TF } from "../../src/model/backend.js";
import { type ModelServer, startModelServer } from "../../src/serve/model-server.js";
import { tempDir } from "../helpers/fixtures.js";
import { saveTinyModel } from "../serve/helpers.js";

export interface TestKey {
  key: string;
  record: KeyRecord;
}

let nextId = 0;
/** A key record (not yet written) and its plaintext key. */
export function testKey(name: string, role: KeyRecord["role"], extra: Partial<KeyRecord> = {}): TestKey {
  const { key, sha256 } = newApiKey();
  const id = `k_${(0xabc000000000 + nextId++).toString(16)}`;
  return { key, record: { id, name, role, sha256, createdAt: new Date(0).toISOString(), ...extra } };
}

export interface Rig {
  dir: string;
  upstream: ModelServer;
  guard: GuardServer;
  auditPath: string;
  keysPath: string;
  model: tfTypes.LayersModel;
  close(): Promise<void>;
}

/** A tiny model served on 127.0.0.1 and a guard in front of it, with the given keys and config. */
export async function startRig(
  tf: TF,
  keys: TestKey[],
  config: Record<string, unknown> = {},
  extra: Partial<GuardOptions> = {},
): Promise<Rig> {
  const { dir: modelDir, model } = await saveTinyModel(tf);
  const upstream = await startModelServer({ modelDir, port: 0, backend: "wasm" });
  const dir = await tempDir("provmark-guard-");
  const keysPath = join(dir, "keys.json");
  await writeKeysFile(keysPath, { ...emptyKeysFile(), keys: keys.map((k) => k.record) });
  const raw = { schema: "provmark/guard-config/v1", keysFile: "keys.json", auditLog: "audit.jsonl", ...config };
  await writeFile(join(dir, "guard.json"), JSON.stringify(raw));
  const guard = await startGuard({
    upstream: upstream.url,
    protocol: "tfserving",
    config: parseGuardConfig(raw, dir, "guard.json"),
    port: 0,
    ...extra,
  });
  return {
    dir,
    upstream,
    guard,
    auditPath: join(dir, "audit.jsonl"),
    keysPath,
    model,
    close: async () => {
      await guard.close();
      await upstream.close();
      model.dispose();
    },
  };
}
