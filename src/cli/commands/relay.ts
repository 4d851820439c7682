import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { type LedgerFlags, ledgerOptions } from "./ledger-flags.js";

/** Submits an owner-signed registration (`register --sign-only`) from the configured, paying account. */
export async function relay(path: string, flags: LedgerFlags, globals: GlobalOptions): Promise<void> {
  const { relayRegistration } = await import("../../release/relay-registration.js");
  const r = await relayRegistration(path, ledgerOptions(flags, globals));
  emit(r, flags, (o) =>
    [
      `relayed ${o.name} ${o.version}`,
      `  digest:        ${o.digest}`,
      `  model:         ${o.modelId} (owner ${o.owner})`,
      `  registrant:    ${o.signer} (signed it)`,
      `  relayer:       ${o.relayer} (paid the gas)`,
      `  transaction:   ${o.txHash} (block ${o.blockNumber}, ${o.registeredAt})`,
      `  registry:      ${o.contract} on chain ${o.chainId} (${o.rpc})`,
    ].join("\n"),
  );
}
