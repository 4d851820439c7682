import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { ledgerOptions } from "./ledger-flags.js";

/**
 * Serves the embedded persistent chain over JSON-RPC on host:port until interrupted. While it runs,
 * other provmark commands on this data dir use it, and so can any EVM tool (ethers, Hardhat, cast).
 */
export async function chain(flags: { host: string; port: number; json?: boolean }, globals: GlobalOptions) {
  const options = ledgerOptions({}, globals);
  const { join } = await import("node:path");
  const { openLedger } = await import("../../ledger/open-ledger.js");
  const { serveEmbeddedChain, DEV_ACCOUNT_KEYS } = await import("../../ledger/embedded/index.js");
  const { Wallet } = await import("ethers");
  // deploy the registry (first run) before serving, so clients find one
  const ledger = await openLedger({ ...options, rpcUrl: null, access: "write" });
  const contract = ledger.registry?.address ?? null;
  const blocks = ledger.deployment?.blockNumber ?? 0;
  await ledger.close();
  const server = await serveEmbeddedChain({
    stateDir: join(options.dataDir, "chain"),
    host: flags.host,
    port: flags.port,
  });
  const accounts = DEV_ACCOUNT_KEYS.slice(0, 3).map((k) => new Wallet(k).address);
  emit(
    { url: server.url, chainId: "31337", contract, stateDir: join(options.dataDir, "chain"), devAccounts: accounts },
    flags,
    (r) =>
      [
        `provmark chain serving ${r.stateDir}`,
        `  JSON-RPC:  ${r.url} (chain id ${r.chainId})`,
        `  registry:  ${r.contract ?? "(none)"} (deployed in block ${blocks})`,
        `  accounts:  ${r.devAccounts.join(", ")} … (Hardhat's public dev keys: never use them elsewhere)`,
        "  Other provmark commands on this data dir use this server while it runs. Ctrl-C stops it.",
      ].join("\n"),
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await server.close();
}
