import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { ledgerOptions } from "./ledger-flags.js";

/**
 * Serves the embedded persistent chain over JSON-RPC on host:port until interrupted. While it runs,
 * other provmark commands on this data dir use it, and so can any EVM tool (ethers, Hardhat, cast).
 */
export async function chain(
  flags: { host: string; port: number; allowRemote?: boolean; json?: boolean },
  globals: GlobalOptions,
) {
  const options = ledgerOptions({}, globals);
  const { isLoopbackHost } = await import("../../ledger/embedded/locked-accounts.js");
  if (!isLoopbackHost(flags.host) && !flags.allowRemote) {
    // refused before anything is opened or deployed
    const { ProvmarkError } = await import("../../errors.js");
    throw new ProvmarkError("USAGE", `--host ${flags.host} is not a loopback address`, {
      subject: "--host",
      hints: [
        "Anyone who reaches the port could send transactions from the unlocked dev accounts.",
        "Pass --allow-remote to serve without unlocked accounts (clients sign their own transactions).",
      ],
    });
  }
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
    allowRemote: !!flags.allowRemote,
  });
  const accounts = DEV_ACCOUNT_KEYS.slice(0, 3).map((k) => new Wallet(k).address);
  emit(
    {
      url: server.url,
      chainId: "31337",
      contract,
      stateDir: join(options.dataDir, "chain"),
      devAccounts: accounts,
      unlockedAccounts: !flags.allowRemote,
    },
    flags,
    (r) =>
      [
        `provmark chain serving ${r.stateDir}`,
        `  JSON-RPC:  ${r.url} (chain id ${r.chainId})`,
        `  registry:  ${r.contract ?? "(none)"} (deployed in block ${blocks})`,
        r.unlockedAccounts
          ? `  accounts:  ${r.devAccounts.join(", ")} … (Hardhat's public dev keys: never use them elsewhere)`
          : "  accounts:  none unlocked (--allow-remote): clients sign their own transactions. The dev keys are public: anyone can still sign with them.",
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
