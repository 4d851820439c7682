import { type Provider, Wallet } from "ethers";
import { ProvmarkError } from "../errors.js";
import { openLedger } from "../ledger/open-ledger.js";
import { REGISTER_VERSION_TYPES, registryDomain } from "../ledger/register-typed-data.js";
import { modelIdOf, sameAddress, toBytes32, ZERO32 } from "../ledger/registry-client.js";
import { buildRelayRequest, manifestCidHash, type RelayRequest } from "../ledger/relay-request.js";
import { loadSigner } from "../ledger/signer.js";
import { buildManifest } from "./build-manifest.js";
import { assertNewVersion, type RegisterOptions, requireRegistry, storeManifest } from "./register-release.js";

export interface SignRegistrationOptions extends RegisterOptions {
  /** How long the signature stays valid, in seconds from the chain's latest block. */
  validForSeconds: number;
  /** The nonce to sign (default: the signer's next one on chain; give it to sign several requests ahead). */
  nonce?: bigint;
}

export interface SignRegistrationResult {
  request: RelayRequest;
  digest: string;
  name: string;
  version: string;
  modelId: string;
  owner: string;
  signer: string;
  manifestCid: string;
  chainId: string;
  contract: string;
  nonce: string;
  deadline: string;
}

/**
 * `register --sign-only`: everything `register` does up to the transaction (hash, manifest to IPFS,
 * checks against the chain), then the owner's key signs the EIP-712 registration instead of sending
 * it. Nothing is sent and no gas is needed; a relayer submits the request later (`provmark relay`).
 * The namespace must exist: registerVersionBySig does not create one.
 */
export async function signRegistration(o: SignRegistrationOptions): Promise<SignRegistrationResult> {
  o.onStage?.("hashing the model");
  const { manifest } = await buildManifest(o);
  const ledger = await openLedger({ ...o.ledger, access: "read" });
  try {
    const registry = requireRegistry(ledger);
    const wallet = await ownerKey(o, ledger.mode, ledger.rpc);
    const signer = wallet.address;
    const owner = o.owner ?? signer;
    const modelId = modelIdOf(owner, manifest.name);
    const current = await registry.modelOwner(modelId);
    if (current === null) {
      throw new ProvmarkError("REGISTRY_UNKNOWN_MODEL", `${owner} has no model namespace ${manifest.name} yet`, {
        subject: manifest.name,
        hints: [
          "A signed registration goes into an existing namespace: the owner creates it once with a plain `provmark register` (which pays gas).",
        ],
      });
    }
    if (!sameAddress(current, signer) && !(await registry.isMaintainer(modelId, signer))) {
      throw new ProvmarkError(
        "REGISTRY_NOT_AUTHORIZED",
        `${signer} is neither the owner nor a maintainer of ${owner}'s model ${manifest.name}`,
        { hints: ["Sign with the owner's key (PROVMARK_PRIVATE_KEY or --keystore), or a maintainer's."] },
      );
    }
    await assertNewVersion(registry, modelId, manifest, owner, o.model);
    const manifestCid = await storeManifest(manifest, o);
    o.onStage?.("signing the registration");
    const deadline = (await chainNow(ledger.provider)) + BigInt(o.validForSeconds);
    const nonce = o.nonce ?? (await registry.nonce(signer));
    const message = {
      signer,
      modelId,
      digest: toBytes32(manifest.model.filesDigest),
      parent: manifest.parent ? toBytes32(manifest.parent) : ZERO32,
      certificateHash: manifest.certificate ? toBytes32(manifest.certificate.hash) : ZERO32,
      manifestCidHash: manifestCidHash(manifestCid),
      nonce: nonce.toString(),
      deadline: deadline.toString(),
    };
    const signature = await wallet.signTypedData(
      registryDomain(ledger.chainId, registry.address),
      REGISTER_VERSION_TYPES,
      message,
    );
    const request = buildRelayRequest({
      chainId: ledger.chainId,
      registry: registry.address,
      message,
      manifestCid,
      signature,
      name: manifest.name,
      version: manifest.version,
    });
    return {
      request,
      digest: manifest.model.filesDigest,
      name: manifest.name,
      version: manifest.version,
      modelId,
      owner,
      signer,
      manifestCid,
      chainId: ledger.chainId.toString(),
      contract: registry.address,
      nonce: message.nonce,
      deadline: request.info.deadline,
    };
  } finally {
    await ledger.close();
  }
}

/**
 * The time the next block will at least have: a dev chain's latest block may be hours old (it mines
 * on demand, at the wall clock), a live chain's is seconds old.
 */
export async function chainNow(provider: Provider): Promise<bigint> {
  const latest = await provider.getBlock("latest");
  return BigInt(Math.max(latest?.timestamp ?? 0, Math.floor(Date.now() / 1000)));
}

/** The owner's (or maintainer's) key; the embedded dev chain falls back to its first dev account, like register. */
async function ownerKey(o: SignRegistrationOptions, mode: "embedded" | "rpc", rpc: string): Promise<Wallet> {
  const own = await loadSigner(o.ledger.signer ?? {});
  if (own) return own;
  if (mode === "embedded") {
    const { DEV_ACCOUNT_KEYS } = await import("../ledger/embedded/index.js");
    return new Wallet(DEV_ACCOUNT_KEYS[0] as string);
  }
  throw new ProvmarkError("CHAIN_SIGNER_MISSING", `signing a registration for ${rpc} needs the owner's key`, {
    hints: [
      "Set PROVMARK_PRIVATE_KEY (hex), or pass --keystore <file> (passphrase from PROVMARK_KEYSTORE_PASSPHRASE).",
    ],
  });
}
