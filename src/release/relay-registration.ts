import { readFile } from "node:fs/promises";
import type { Provider } from "ethers";
import { fromFsError, isProvmarkError, ProvmarkError } from "../errors.js";
import { type LedgerOptions, openLedger } from "../ledger/open-ledger.js";
import { sameAddress, ZERO32 } from "../ledger/registry-client.js";
import { parseRelayRequest, type RelayRequest, recoverRequestSigner } from "../ledger/relay-request.js";
import { requireRegistry } from "./register-release.js";
import { chainNow } from "./sign-registration.js";

export interface RelayResult {
  digest: string;
  modelId: string;
  /** Who signed, and so who is recorded as the registrant (the namespace's owner or a maintainer). */
  signer: string;
  owner: string;
  /** The account that sent the transaction and paid its gas. */
  relayer: string;
  name: string;
  version: string;
  manifestCid: string;
  txHash: string;
  blockNumber: number;
  registeredAt: string;
  chainId: string;
  contract: string;
  rpc: string;
}

/**
 * `provmark relay <file>`: submits a registration the owner signed (`register --sign-only`) from the
 * configured, funded account. Everything a relayer could get wrong is refused before any gas is spent
 * (chain, registry, deadline, nonce, signature); the contract checks the same again, and its reverts
 * are decoded into the same codes.
 */
export async function relayRegistration(path: string, ledgerOptions: Omit<LedgerOptions, "access">) {
  const text = await readFile(path, "utf8").catch((e: unknown) => {
    throw fromFsError(e, path);
  });
  const req = parseRelayRequest(text, path);
  const m = req.typedData.message;
  const ledger = await openLedger({ ...ledgerOptions, access: "write" });
  try {
    const registry = requireRegistry(ledger);
    const { chainId, verifyingContract } = req.typedData.domain;
    if (BigInt(chainId) !== ledger.chainId) {
      throw new ProvmarkError(
        "RELAY_WRONG_CHAIN",
        `${path} was signed for chain ${chainId}, but ${ledger.rpc} is chain ${ledger.chainId}`,
        { subject: path, hints: [`Relay it to an endpoint of chain ${chainId} (--rpc).`] },
      );
    }
    if (!sameAddress(verifyingContract, registry.address)) {
      throw new ProvmarkError(
        "RELAY_WRONG_REGISTRY",
        `${path} was signed for registry ${verifyingContract}, not ${registry.address}`,
        {
          subject: path,
          hints: [
            "The signature only counts in the registry it names: pass --registry <that address>, or ask the owner to sign for this one.",
          ],
        },
      );
    }
    await precheck(req, path, registry, ledger.provider);
    const tx = await registry
      .registerBySig({
        modelId: m.modelId,
        digest: m.digest,
        parent: m.parent === ZERO32 ? null : m.parent,
        certificateHash: m.certificateHash === ZERO32 ? null : m.certificateHash,
        manifestCid: req.manifestCid,
        signer: m.signer,
        deadline: BigInt(m.deadline),
        signature: req.signature,
      })
      .catch((e: unknown) => {
        throw refine(e, path);
      });
    return {
      digest: m.digest.slice(2).toLowerCase(),
      modelId: m.modelId,
      signer: m.signer,
      owner: (await registry.modelOwner(m.modelId)) ?? "",
      relayer: ledger.signer ?? "",
      name: req.info.name,
      version: req.info.version,
      manifestCid: req.manifestCid,
      txHash: tx.txHash,
      blockNumber: tx.blockNumber,
      registeredAt: new Date(tx.timestamp * 1000).toISOString(),
      chainId: ledger.chainId.toString(),
      contract: registry.address,
      rpc: ledger.rpc,
    } satisfies RelayResult;
  } finally {
    await ledger.close();
  }
}

async function precheck(
  req: RelayRequest,
  path: string,
  registry: ReturnType<typeof requireRegistry>,
  provider: Provider,
): Promise<void> {
  const m = req.typedData.message;
  // the next block is mined no earlier than this: a deadline before it cannot be met
  if (BigInt(m.deadline) < (await chainNow(provider))) {
    throw new ProvmarkError("RELAY_SIGNATURE_EXPIRED", `${path} expired at ${req.info.deadline}`, {
      subject: path,
      hints: ["Ask the owner to sign again (`provmark register --sign-only --valid-for <duration>`)."],
    });
  }
  const recovered = recoverRequestSigner(req);
  // a contract wallet (ERC-1271) signs in its own way: the contract checks it
  if (!sameAddress(recovered, m.signer) && (await provider.getCode(m.signer)) === "0x") {
    throw new ProvmarkError(
      "RELAY_SIGNATURE_INVALID",
      `the signature in ${path} is not ${m.signer}'s over this request: a field was altered, or another key signed it`,
      { subject: path, hints: ["Use the file exactly as the owner's `register --sign-only` wrote it."] },
    );
  }
  const next = await registry.nonce(m.signer);
  if (BigInt(m.nonce) < next) {
    throw new ProvmarkError(
      "RELAY_NONCE_USED",
      `${path} uses nonce ${m.nonce} of ${m.signer}, which is used already (next: ${next}): it was relayed before, or superseded`,
      { subject: path, hints: ["`provmark check` / `history` shows whether the version is registered."] },
    );
  }
  if (BigInt(m.nonce) > next) {
    throw new ProvmarkError(
      "RELAY_NONCE_AHEAD",
      `${path} uses nonce ${m.nonce} of ${m.signer}, but the signer's next nonce is ${next}`,
      { subject: path, hints: ["Relay the signer's earlier requests first (nonces are used in order)."] },
    );
  }
}

/** The contract's signature reverts (a relay bypassing the prechecks, or a race) as the relay codes. */
function refine(e: unknown, path: string): unknown {
  if (!isProvmarkError(e)) return e;
  const code =
    e.subject === "ExpiredSignature"
      ? "RELAY_SIGNATURE_EXPIRED"
      : e.subject === "InvalidSignature"
        ? "RELAY_SIGNATURE_INVALID"
        : e.subject === "InvalidAccountNonce"
          ? "RELAY_NONCE_USED"
          : null;
  return code ? new ProvmarkError(code, `${path}: ${e.message}`, { subject: path, hints: e.hints, cause: e }) : e;
}
