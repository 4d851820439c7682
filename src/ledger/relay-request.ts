import { getAddress, isAddress, keccak256, toUtf8Bytes, verifyTypedData } from "ethers";
import { z } from "zod";
import { ProvmarkError } from "../errors.js";
import { REGISTER_VERSION_TYPES, registryDomain } from "./register-typed-data.js";

export const RELAY_REQUEST_SCHEMA = "provmark/relay-request/v1";

const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "a 0x-prefixed 32-byte hex string");
const address = z.string().refine(isAddress, "a 0x-prefixed address");
const uint = z.string().regex(/^\d{1,78}$/, "a decimal integer (as a string)");

/**
 * A registration the owner signed for someone else to submit (`register --sign-only`). The typed
 * data is exactly what was signed; the other fields are what the contract call needs besides it.
 */
export const relayRequestSchema = z
  .object({
    schema: z.literal(RELAY_REQUEST_SCHEMA),
    typedData: z
      .object({
        domain: z
          .object({
            name: z.literal("ProvenanceRegistry"),
            version: z.literal("1"),
            chainId: uint,
            verifyingContract: address,
          })
          .strict(),
        primaryType: z.literal("RegisterVersion"),
        types: z.unknown(),
        message: z
          .object({
            signer: address,
            modelId: bytes32,
            digest: bytes32,
            parent: bytes32,
            certificateHash: bytes32,
            manifestCidHash: bytes32,
            nonce: uint,
            deadline: uint,
          })
          .strict(),
      })
      .strict(),
    manifestCid: z.string().min(1).max(200),
    signature: z.string().regex(/^0x[0-9a-fA-F]+$/, "0x-prefixed hex"),
    /** For people reading the file; not signed, never trusted. */
    info: z.object({ name: z.string(), version: z.string(), deadline: z.string() }).strict(),
  })
  .strict();
export type RelayRequest = z.infer<typeof relayRequestSchema>;
export type RegisterVersionMessage = RelayRequest["typedData"]["message"];

/** The request file for `message`, signed by `signature`, on `chainId`'s registry `registry`. */
export function buildRelayRequest(o: {
  chainId: bigint;
  registry: string;
  message: RegisterVersionMessage;
  manifestCid: string;
  signature: string;
  name: string;
  version: string;
}): RelayRequest {
  return {
    schema: RELAY_REQUEST_SCHEMA,
    typedData: {
      domain: {
        name: "ProvenanceRegistry",
        version: "1",
        chainId: o.chainId.toString(),
        verifyingContract: getAddress(o.registry),
      },
      primaryType: "RegisterVersion",
      types: REGISTER_VERSION_TYPES,
      message: o.message,
    },
    manifestCid: o.manifestCid,
    signature: o.signature,
    info: { name: o.name, version: o.version, deadline: new Date(Number(o.message.deadline) * 1000).toISOString() },
  };
}

export const manifestCidHash = (cid: string) => keccak256(toUtf8Bytes(cid));

/** The EIP-712 domain and message of a request, as ethers signs and verifies them. */
export function typedDataOf(r: RelayRequest) {
  const d = r.typedData.domain;
  return {
    domain: registryDomain(BigInt(d.chainId), d.verifyingContract),
    types: REGISTER_VERSION_TYPES,
    message: r.typedData.message,
  };
}

/**
 * Parses a request file's text: schema, the types the contract hashes (a file may not swap in others),
 * and a manifest CID that is the one whose hash was signed. Every problem is reported at once.
 */
export function parseRelayRequest(text: string, path: string): RelayRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw invalid(path, [`not JSON: ${(e as Error).message}`]);
  }
  const r = relayRequestSchema.safeParse(value);
  if (!r.success)
    throw invalid(
      path,
      r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
    );
  const problems: string[] = [];
  if (JSON.stringify(r.data.typedData.types) !== JSON.stringify(REGISTER_VERSION_TYPES)) {
    problems.push("typedData.types: not the registry's RegisterVersion type");
  }
  if (manifestCidHash(r.data.manifestCid) !== r.data.typedData.message.manifestCidHash.toLowerCase()) {
    problems.push("manifestCid: its keccak256 is not the signed manifestCidHash");
  }
  if (problems.length) throw invalid(path, problems);
  return r.data;
}

/**
 * The address that signed the request (ECDSA recovery), or null when the signature does not parse.
 * A contract wallet's (ERC-1271) signature recovers to some other address: the caller decides.
 */
export function recoverRequestSigner(r: RelayRequest): string | null {
  const { domain, types, message } = typedDataOf(r);
  try {
    return verifyTypedData(domain, types, message, r.signature);
  } catch {
    return null;
  }
}

function invalid(path: string, problems: string[]): ProvmarkError {
  return new ProvmarkError("RELAY_REQUEST_INVALID", `${path} is not a valid signed registration request`, {
    subject: path,
    hints: [...problems.slice(0, 8), "Ask the owner for the file `provmark register --sign-only --out` wrote."],
  });
}
