import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { settings } from "../../config.js";
import { isProvmarkError, type ProvmarkError } from "../../errors.js";
import { redactRpcUrl } from "../../ledger/redact-rpc-url.js";
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
    chain: {
      ...s.chain,
      rpcUrl: s.chain.rpcUrl === null ? null : redactRpcUrl(s.chain.rpcUrl),
      ...(await ledgerState(s.chain)),
    },
    ipfs: s.ipfs,
  };
  emit(report, opts, (r) => {
    const b = r.backend;
    const lines = [
      `provmark ${r.provmark} on Node ${r.node} (${r.platform})`,
      "error" in b
        ? `backend:  unavailable: ${b.error}`
        : `backend:  ${b.backend} (requested ${b.requested}; tfjs ${b.tfjsVersion}${b.wasm ? `; simd ${b.wasm.simd}, threads ${b.wasm.threads}${b.wasm.threadsUnavailable ? ` (more unavailable: ${b.wasm.threadsUnavailable})` : ""}, native kernels ${b.wasm.native ? "on" : "off"}` : ""})`,
      ...("error" in b ? [] : b.attempts.filter((a) => !a.ok).map((a) => `  ${a.backend} not used: ${a.reason}`)),
      `versions: ${Object.entries(r.versions)
        .map(([k, v]) => `${k} ${v ?? "(not installed)"}`)
        .join(", ")}`,
      `data dir: ${r.dataDir}`,
      `chain:    ${r.chain.mode === "rpc" ? `JSON-RPC ${r.chain.rpcUrl}` : `embedded local dev chain (${r.chain.stateDir}): ${r.chain.journalBlocks} blocks journaled, registry ${r.chain.registry ?? (r.chain.registryError ? `unknown: ${r.chain.registryError.message}` : "not deployed yet")}`}`,
      `signer:   ${r.chain.signer ?? "none set (PROVMARK_PRIVATE_KEY or --keystore; the embedded chain uses a dev account)"}`,
      `ipfs:     ${r.ipfs.mode === "kubo" ? `Kubo RPC ${r.ipfs.apiUrl}` : `embedded Helia (${r.ipfs.blockstoreDir})`}`,
    ];
    return lines.join("\n");
  });
}

/**
 * What the ledger settings point at, read without starting a chain: the embedded journal's length and
 * registry, and the address of PROVMARK_PRIVATE_KEY (never the key itself).
 */
async function ledgerState(chain: ReturnType<typeof settings>["chain"]): Promise<{
  journalBlocks: number | null;
  registry: string | null;
  registryError?: ReturnType<ProvmarkError["toJSON"]>;
  signer: string | null;
}> {
  const { readFile } = await import("node:fs/promises");
  let journalBlocks: number | null = null;
  let registry: string | null = null;
  let registryError: ReturnType<ProvmarkError["toJSON"]> | undefined;
  if (chain.mode === "embedded") {
    const journal = await readFile(join(chain.stateDir, "journal.jsonl"), "utf8").catch(() => null);
    // header line, then one line per block; a torn last line has no newline and is not a block
    journalBlocks = journal === null ? 0 : Math.max(0, journal.split("\n").length - 2);
    const { readDeployment } = await import("../../ledger/deployments.js");
    // a damaged record is what doctor is for: reported, not thrown
    registry = await readDeployment(chain.stateDir, 31337n).then(
      (d) => d?.address ?? null,
      (e: unknown) => {
        if (!isProvmarkError(e)) throw e;
        registryError = e.toJSON();
        return null;
      },
    );
  }
  let signer: string | null = null;
  const key = process.env.PROVMARK_PRIVATE_KEY;
  if (key) {
    try {
      const { Wallet } = await import("ethers");
      signer = new Wallet(key.startsWith("0x") ? key : `0x${key}`).address;
    } catch {
      signer = "PROVMARK_PRIVATE_KEY is set but is not a valid private key";
    }
  }
  return { journalBlocks, registry, ...(registryError ? { registryError } : {}), signer };
}
