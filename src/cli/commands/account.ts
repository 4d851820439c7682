import { emit } from "../output.js";

/** Creates a new random EVM account, written as an encrypted JSON keystore (mode 0600). */
export async function accountNew(flags: { out: string; force?: boolean; json?: boolean }): Promise<void> {
  const { Wallet } = await import("ethers");
  const { assertOutputFree, writeFileAtomic } = await import("../../model/atomic-write.js");
  const { getPassphrase } = await import("../../watermark/passphrase.js");
  const { KEYSTORE_PASSPHRASE_ENV } = await import("../../ledger/signer.js");
  await assertOutputFree(flags.out, !!flags.force, "Pass --force to replace it (the old account is lost).");
  const passphrase = await getPassphrase({ confirm: true, envVar: KEYSTORE_PASSPHRASE_ENV, label: "keystore" });
  const wallet = Wallet.createRandom();
  const json = await wallet.encrypt(passphrase);
  await writeFileAtomic(flags.out, json, 0o600);
  emit(
    { address: wallet.address, keystore: flags.out },
    flags,
    (r) =>
      `created account ${r.address}\nkeystore: ${r.keystore} (mode 0600; fund the address before writing to a real chain)`,
  );
}
