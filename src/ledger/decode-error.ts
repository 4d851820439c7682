import { Interface } from "ethers";
import { type ErrorCode, isProvmarkError, ProvmarkError } from "../errors.js";
import { PROVENANCE_REGISTRY_ABI, type ProvenanceRegistryErrorName } from "./generated/provenance-registry.js";
import { redactUrlsIn } from "./redact-rpc-url.js";

const registryInterface = new Interface(PROVENANCE_REGISTRY_ABI);

const isoTime = (seconds: unknown) => new Date(Number(seconds) * 1000).toISOString();

/** Each custom error of the contract, as a coded error with a message a user can act on. */
const REVERTS: Record<
  ProvenanceRegistryErrorName,
  (args: readonly unknown[]) => { code: ErrorCode; message: string; hint?: string }
> = {
  DuplicateDigest: ([modelId, digest, at]) => ({
    code: "REGISTRY_DUPLICATE_DIGEST",
    message: `version ${digest} is registered already in model ${modelId} (since ${isoTime(at)})`,
    hint: `A digest is unique within its model namespace; \`provmark history ${digest}\` shows the existing record.`,
  }),
  UnknownParent: ([parent]) => ({
    code: "REGISTRY_UNKNOWN_PARENT",
    message: `parent ${parent} is not a registered version of this model`,
    hint: "Register the parent first (in the same namespace: --name, and --owner for a maintainer), or check it with `provmark history <digest>`.",
  }),
  RevokedParent: ([parent]) => ({
    code: "REGISTRY_REVOKED_PARENT",
    message: `parent ${parent} is revoked; a revoked version cannot have new children`,
  }),
  UnknownVersion: ([modelId, digest]) => ({
    code: "REGISTRY_UNKNOWN_VERSION",
    message: `${digest} is not registered in model ${modelId}`,
  }),
  AlreadyRevoked: ([, digest, at]) => ({
    code: "REGISTRY_ALREADY_REVOKED",
    message: `${digest} was revoked already (at ${isoTime(at)})`,
  }),
  CertificateMismatch: ([modelId, digest, certificateHash]) => ({
    code: "REGISTRY_CERTIFICATE_MISMATCH",
    message: `certificate ${certificateHash} is not the one version ${digest} of model ${modelId} was registered with`,
    hint: "A claim must cite the version's own certificate: `provmark history <digest>` shows it.",
  }),
  NotAuthorized: ([modelId, account]) => ({
    code: "REGISTRY_NOT_AUTHORIZED",
    message: `${account} is neither the owner nor a maintainer of model ${modelId}`,
    hint: "Use the owner's key, or ask the owner to add this account as a maintainer.",
  }),
  NotPendingOwner: ([modelId, account]) => ({
    code: "REGISTRY_NOT_AUTHORIZED",
    message: `${account} is not the pending owner of model ${modelId}`,
  }),
  UnknownModel: ([modelId]) => ({ code: "REGISTRY_UNKNOWN_MODEL", message: `no model namespace ${modelId}` }),
  ModelExists: ([modelId]) => ({ code: "REGISTRY_REVERTED", message: `model namespace ${modelId} exists already` }),
  ExpiredSignature: ([deadline]) => ({
    code: "REGISTRY_SIGNATURE_REJECTED",
    message: `the registration signature expired at ${isoTime(deadline)}`,
    hint: "Sign again with a later deadline.",
  }),
  InvalidSignature: ([signer]) => ({
    code: "REGISTRY_SIGNATURE_REJECTED",
    message: `the signature is not valid for signer ${signer} (wrong key, chain, contract, or nonce already used)`,
  }),
  ZeroName: () => ({ code: "REGISTRY_REVERTED", message: "the model name hash is zero" }),
  ZeroDigest: () => ({ code: "REGISTRY_REVERTED", message: "the digest is zero" }),
  ZeroRoot: () => ({ code: "REGISTRY_REVERTED", message: "the batch root is zero" }),
  EmptyBatch: () => ({ code: "REGISTRY_REVERTED", message: "the batch is empty" }),
  InvalidAccountNonce: ([account, nonce]) => ({
    code: "REGISTRY_SIGNATURE_REJECTED",
    message: `nonce ${nonce} is not the next nonce of ${account} (signature replayed?)`,
  }),
  InvalidShortString: () => ({ code: "REGISTRY_REVERTED", message: "invalid EIP-712 domain string" }),
  StringTooLong: () => ({ code: "REGISTRY_REVERTED", message: "EIP-712 domain string too long" }),
  DuplicateBatch: ([anchorer, root]) => ({
    code: "REGISTRY_REVERTED",
    message: `batch root ${root} is anchored already by ${anchorer}`,
  }),
};

/** The revert data hidden somewhere in an ethers / JSON-RPC error, if any. */
function revertData(e: unknown, depth = 0): string | null {
  if (depth > 6 || e === null || typeof e !== "object") return null;
  const o = e as Record<string, unknown>;
  for (const key of ["data", "revertData"]) {
    const v = o[key];
    if (typeof v === "string" && /^0x[0-9a-fA-F]{8,}$/.test(v)) return v;
  }
  for (const key of ["data", "error", "info", "cause", "payload"]) {
    const found = revertData(o[key], depth + 1);
    if (found) return found;
  }
  return null;
}

function errorCode(e: unknown): string | undefined {
  const o = e as { code?: unknown; cause?: { code?: unknown } } | undefined;
  if (typeof o?.code === "string") return o.code;
  if (typeof o?.cause?.code === "string") return o.cause.code;
  return undefined;
}

/** Every message string in the error and the RPC error objects it wraps (nodes word the same fault differently). */
function nestedMessages(e: unknown, depth = 0): string[] {
  if (depth > 6 || e === null || typeof e !== "object") return [];
  const o = e as Record<string, unknown>;
  const own = typeof o.message === "string" ? [o.message] : [];
  return [...own, ...["error", "info", "cause", "data"].flatMap((k) => nestedMessages(o[k], depth + 1))];
}

const shortMessage = (e: unknown) =>
  redactUrlsIn((e as { shortMessage?: string })?.shortMessage ?? (e as Error)?.message ?? String(e));

/**
 * Turns whatever a contract call threw into a coded ProvmarkError: the registry's custom errors by
 * name, then the transport failures ethers reports by code. `action` says what was being done, `rpc`
 * where (both end up in the message).
 */
export function ledgerError(e: unknown, action: string, rpc: string): ProvmarkError {
  if (isProvmarkError(e)) return e;
  const data = revertData(e);
  if (data) {
    const parsed = (() => {
      try {
        return registryInterface.parseError(data);
      } catch {
        return null;
      }
    })();
    if (parsed && parsed.name in REVERTS) {
      const r = REVERTS[parsed.name as ProvenanceRegistryErrorName]([...parsed.args]);
      return new ProvmarkError(r.code, `${action}: ${r.message}`, {
        cause: e,
        hints: r.hint ? [r.hint] : [],
        subject: parsed.name,
      });
    }
    return new ProvmarkError("REGISTRY_REVERTED", `${action}: the contract reverted with data ${data.slice(0, 74)}`, {
      cause: e,
      hints: ["Is the address a ProvenanceRegistry of this provmark version? Check --registry / the deployment."],
    });
  }
  const code = errorCode(e);
  const msg = shortMessage(e);
  const all = nestedMessages(e).join(" | ");
  if (code === "INSUFFICIENT_FUNDS" || /insufficient funds|enough funds/i.test(all)) {
    return new ProvmarkError("CHAIN_INSUFFICIENT_FUNDS", `${action}: the signer cannot pay for gas on ${rpc}`, {
      cause: e,
      hints: ["Fund the signer's account (its address is above), or use a funded key."],
    });
  }
  if (
    code === "ECONNREFUSED" ||
    code === "ENOTFOUND" ||
    code === "ECONNRESET" ||
    code === "NETWORK_ERROR" ||
    code === "TIMEOUT" ||
    /fetch failed|ECONNREFUSED|socket hang up/i.test(all)
  ) {
    return new ProvmarkError("CHAIN_UNREACHABLE", `${action}: ${rpc} did not answer (${msg})`, {
      cause: e,
      subject: rpc,
      hints: ["Check that the node is running and the --rpc URL (or PROVMARK_RPC_URL) is right."],
    });
  }
  if (code === "CALL_EXCEPTION" || code === "TRANSACTION_REPLACED" || code === "NONCE_EXPIRED") {
    return new ProvmarkError("CHAIN_TX_FAILED", `${action}: ${msg}`, {
      cause: e,
      hints: ["Nothing was recorded. Check the signer's pending transactions and retry."],
    });
  }
  // ethers quotes the request URL (API key included) in its full messages
  const detail =
    nestedMessages(e)
      .map(redactUrlsIn)
      .find((m) => m !== msg && !/could not coalesce/i.test(m)) ?? msg;
  return new ProvmarkError("CHAIN_RPC_ERROR", `${action}: ${rpc} answered with an error: ${detail}`, {
    cause: e,
    subject: rpc,
  });
}
