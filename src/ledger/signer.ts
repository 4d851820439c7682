import { readFile } from "node:fs/promises";
import { Wallet } from "ethers";
import { fromFsError, ProvmarkError } from "../errors.js";
import { getPassphrase } from "../watermark/passphrase.js";

export const KEYSTORE_PASSPHRASE_ENV = "PROVMARK_KEYSTORE_PASSPHRASE";

export interface SignerSource {
  /** Hex private key; defaults to PROVMARK_PRIVATE_KEY. Never printed. */
  privateKey?: string;
  /** Encrypted JSON keystore (Web3 Secret Storage v3); passphrase from PROVMARK_KEYSTORE_PASSPHRASE or a prompt. */
  keystore?: string;
}

/** The transaction signer from a keystore file or a private key, or null when neither is given. */
export async function loadSigner(source: SignerSource): Promise<Wallet | null> {
  if (source.keystore) return fromKeystore(source.keystore);
  const key = source.privateKey ?? process.env.PROVMARK_PRIVATE_KEY;
  if (key === undefined || key === "") return null;
  const hex = key.startsWith("0x") ? key : `0x${key}`;
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) {
    throw new ProvmarkError("USAGE", "PROVMARK_PRIVATE_KEY must be 32 bytes of hex (64 hex digits)", {
      subject: "PROVMARK_PRIVATE_KEY",
    });
  }
  try {
    return new Wallet(hex);
  } catch {
    throw new ProvmarkError("USAGE", "PROVMARK_PRIVATE_KEY is not a valid secp256k1 private key", {
      subject: "PROVMARK_PRIVATE_KEY",
    });
  }
}

async function fromKeystore(path: string): Promise<Wallet> {
  const json = await readFile(path, "utf8").catch((e: unknown) => {
    throw fromFsError(e, path);
  });
  const passphrase = await getPassphrase({ envVar: KEYSTORE_PASSPHRASE_ENV, label: "keystore" });
  try {
    const w = await Wallet.fromEncryptedJson(json, passphrase);
    return new Wallet(w.privateKey);
  } catch (e) {
    const bad = /password/i.test((e as Error).message);
    throw new ProvmarkError(
      "CHAIN_KEYSTORE_INVALID",
      bad ? `wrong passphrase for keystore ${path}` : `${path} is not a JSON keystore`,
      { subject: path, hints: [`Set ${KEYSTORE_PASSPHRASE_ENV} or run in a terminal to be asked.`] },
    );
  }
}
