import { z } from "zod";
import { ProvmarkError } from "../../errors.js";
import { digestOfDigests, PAYLOAD_TYPE, PREDICATE_TYPE, type SignedResource, STATEMENT_TYPE } from "./statement.js";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, "64 lower-case hex digits");

// Only what v1.0 verifiers must read: other predicate fields are ignored, as the predicate's spec says.
const statementSchema = z.object({
  _type: z.string(),
  subject: z.array(z.object({ name: z.string(), digest: z.object({ sha256: hex64 }) })),
  predicateType: z.string(),
  predicate: z.object({
    serialization: z.object({
      method: z.string(),
      hash_type: z.string().optional(),
      allow_symlinks: z.boolean().optional(),
      ignore_paths: z.array(z.string()).optional(),
    }),
    resources: z.array(z.object({ name: z.string().min(1), algorithm: z.string(), digest: z.string() })),
  }),
});

/** What a verified signature says the model is. */
export interface SignedManifest {
  modelName: string;
  rootDigest: string;
  resources: SignedResource[];
  allowSymlinks: boolean;
  ignorePaths: string[];
}

const invalid = (message: string, hints: string[] = []) =>
  new ProvmarkError("SIGNATURE_STATEMENT_INVALID", message, { subject: "model.sig", hints });

/**
 * Reads the signed statement of a verified envelope, with the reference verifier's checks: in-toto
 * JSON, statement v1, the model-signing v1.0 predicate, one subject whose digest is the root digest
 * of the resources listed, `files` serialization with SHA-256, each path once.
 */
export function parseSignedStatement(payloadType: string, payload: Uint8Array): SignedManifest {
  if (payloadType !== PAYLOAD_TYPE) throw invalid(`the DSSE payload type is ${payloadType}, not ${PAYLOAD_TYPE}`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch {
    throw invalid("the signed payload is not UTF-8 JSON");
  }
  const r = statementSchema.safeParse(json);
  if (!r.success) {
    throw invalid(
      `the signed statement is malformed: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  const s = r.data;
  if (s._type !== STATEMENT_TYPE) throw invalid(`the statement type is ${s._type}, not ${STATEMENT_TYPE}`);
  if (s.predicateType !== PREDICATE_TYPE) {
    throw invalid(`the predicate type is ${s.predicateType}, not ${PREDICATE_TYPE}`, [
      "provmark reads model-signing v1.x signatures; re-sign older (v0.x) signatures with model_signing 1.x or provmark sign.",
    ]);
  }
  const [subject, ...more] = s.subject;
  if (subject === undefined || more.length > 0) throw invalid(`the statement has ${s.subject.length} subjects, not 1`);
  const ser = s.predicate.serialization;
  if (ser.method !== "files" || ser.hash_type !== "sha256") {
    throw unsupported(`${ser.method} serialization with ${ser.hash_type ?? "no"} hash`);
  }
  const seen = new Set<string>();
  const resources: SignedResource[] = [];
  for (const res of s.predicate.resources) {
    if (res.algorithm !== "sha256" || !/^[0-9a-f]{64}$/.test(res.digest)) {
      throw invalid(`resource ${res.name} has a ${res.algorithm} digest ${res.digest}, not a SHA-256`);
    }
    if (seen.has(res.name)) throw invalid(`resource ${res.name} is listed twice`);
    seen.add(res.name);
    resources.push({ name: res.name, sha256: res.digest });
  }
  // over the order listed, as the reference checks it
  const root = digestOfDigests(resources);
  if (root !== subject.digest.sha256) {
    throw invalid(`the statement's root digest ${subject.digest.sha256} is not that of its resources (${root})`);
  }
  return {
    modelName: subject.name,
    rootDigest: root,
    resources,
    allowSymlinks: ser.allow_symlinks ?? false,
    ignorePaths: ser.ignore_paths ?? [],
  };
}

function unsupported(what: string): ProvmarkError {
  return new ProvmarkError("SIGNATURE_UNSUPPORTED", `the signature uses ${what}; provmark verifies files/sha256`, {
    subject: "model.sig",
    hints: ["Sign with model_signing's default (files, sha256) or with provmark sign."],
  });
}
