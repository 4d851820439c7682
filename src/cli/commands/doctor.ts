import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { settings } from "../../config.js";
import { isProvmarkError } from "../../errors.js";
import { type BackendInfo, backendChoice, loadTf } from "../../model/backend.js";
import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";

const require = createRequire(import.meta.url);

/** A dependency's version, found by walking up from its entry point (some packages hide package.json). */
function version(pkg: string): string | null {
  let dir: string;
  try {
    dir = dirname(require.resolve(pkg));
  } catch {
    return null;
  }
  for (; dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const p = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (p.name === pkg) return p.version ?? null;
    } catch {
      // no package.json at this level
    }
  }
  return null;
}

export async function doctor(opts: { json?: boolean }, globals: GlobalOptions): Promise<void> {
  const s = settings(globals.dataDir ? { dataDir: globals.dataDir } : {});
  let backend: BackendInfo | { error: string };
  try {
    backend = (await loadTf(backendChoice(globals.backend))).info;
  } catch (e) {
    if (!isProvmarkError(e)) throw e;
    backend = { error: e.message };
  }
  const report = {
    provmark: (
      JSON.parse(readFileSync(new URL("../../../../package.json", import.meta.url), "utf8")) as { version: string }
    ).version,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    backend,
    versions: {
      "@tensorflow/tfjs": version("@tensorflow/tfjs"),
      "@tensorflow/tfjs-backend-wasm": version("@tensorflow/tfjs-backend-wasm"),
      "@tensorflow/tfjs-node": version("@tensorflow/tfjs-node"),
      ethers: version("ethers"),
    },
    dataDir: s.dataDir,
    chain: s.chain,
    ipfs: s.ipfs,
  };
  emit(report, opts, (r) => {
    const b = r.backend;
    const lines = [
      `provmark ${r.provmark} on Node ${r.node} (${r.platform})`,
      "error" in b
        ? `backend:  unavailable: ${b.error}`
        : `backend:  ${b.backend} (requested ${b.requested}; tfjs ${b.tfjsVersion}${b.wasm ? `; simd ${b.wasm.simd}, threads ${b.wasm.threads}` : ""})`,
      ...("error" in b ? [] : b.attempts.filter((a) => !a.ok).map((a) => `  ${a.backend} not used: ${a.reason}`)),
      `versions: ${Object.entries(r.versions)
        .map(([k, v]) => `${k} ${v ?? "(not installed)"}`)
        .join(", ")}`,
      `data dir: ${r.dataDir}`,
      `chain:    ${r.chain.mode === "rpc" ? `JSON-RPC ${r.chain.rpcUrl}` : `embedded local dev chain (${r.chain.stateDir})`}`,
      `ipfs:     ${r.ipfs.mode === "kubo" ? `Kubo RPC ${r.ipfs.apiUrl}` : `embedded Helia (${r.ipfs.blockstoreDir})`}`,
    ];
    return lines.join("\n");
  });
}
