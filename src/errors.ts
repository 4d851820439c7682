/**
 * The one error type of provmark. Code checks errors by `code`, never by message text; the CLI maps
 * codes to exit codes. Expected outcomes (a verdict, a failed match) are values, not errors.
 */

/** Exit codes of the CLI. Verdict codes are added by the commands that produce verdicts. */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  /** verify: no watermark found (p above the inconclusive band); check-reveal: a proof failed. */
  notDetected: 3,
  /** verify: some evidence, not enough to decide at α (or no test could run). */
  inconclusive: 4,
  /** check: the model's digest is not registered (also the runtime guard's MODEL_UNREGISTERED). */
  unregistered: 5,
  /** check: the model's digest is registered but revoked. */
  revoked: 6,
  /** verify-signature, check --signature: the signature, its certificates or the model's files do not verify. */
  signatureInvalid: 7,
} as const;

interface CodeInfo {
  /** Exit code when this error reaches the CLI. */
  readonly exit: number;
  /** One-line meaning, for docs/errors.md and `--json` output. */
  readonly summary: string;
}

const usage = (summary: string): CodeInfo => ({ exit: ExitCode.usage, summary });

/** Stable catalogue of error codes. Add, never rename: scripts match on these. */
export const ErrorCodes = {
  USAGE: usage("A command-line flag or argument is missing or invalid."),
  PATH_NOT_FOUND: usage("A file or directory named on the command line does not exist."),
  PATH_NOT_DIRECTORY: usage("A directory was expected."),
  PATH_UNREADABLE: usage("A file or directory could not be read (permissions or I/O error)."),
  PATH_SYMLINK_DIR: usage("A directory symlink was found inside a model directory."),
  OUTPUT_EXISTS: usage("The output path exists already; choose another or pass --force."),
  OUTPUT_WRITE_FAILED: usage("Writing the output failed; nothing was left half-written."),
  MODEL_NOT_FOUND: usage("The directory holds no model.json or *weights_manifest.json."),
  MODEL_JSON_INVALID: usage("model.json (or a weights manifest) is not valid JSON or lacks required fields."),
  MODEL_FORMAT_UNSUPPORTED: usage("The model format is not one provmark reads."),
  MODEL_SHARD_MISSING: usage("A weight shard named in the manifest is missing."),
  MODEL_SHARD_TRUNCATED: usage("A weight shard is shorter than the manifest says."),
  MODEL_SHARD_OVERSIZED: usage("A weight shard is longer than the manifest says."),
  MODEL_DTYPE_UNKNOWN: usage("A weight has a dtype or quantization dtype provmark does not know."),
  MODEL_WEIGHT_DUPLICATE: usage("Two weights share one name."),
  MODEL_WEIGHTS_NONFINITE: usage("A weight contains NaN or infinity."),
  MODEL_LOAD_FAILED: usage("TensorFlow.js could not build the model from its files."),
  DATASET_UNKNOWN: usage("The dataset name is not known."),
  DATASET_INVALID: usage("Dataset files are missing or malformed."),
  BACKEND_UNAVAILABLE: usage("The requested TensorFlow.js backend could not be loaded."),
  KEY_FILE_INVALID: usage("The key file is not a provmark key file, or it is damaged."),
  KEY_DECRYPT_FAILED: usage("The key file could not be decrypted: wrong passphrase, or the file was altered."),
  KEY_PASSPHRASE_MISSING: usage("No passphrase: set PROVMARK_PASSPHRASE or run in a terminal to be asked."),
  KEY_MODEL_MISMATCH: usage("The key was made for another input shape or class count than the model."),
  LAYER_NOT_FOUND: usage("The watermark layer named by the key or flag is not in the model."),
  LAYER_TOO_SMALL: usage("The watermark layer has fewer carrier weights than the message has bits."),
  LAYER_AMBIGUOUS: usage("A short layer name matches several layers of a nested model; use its full path."),
  MODEL_INPUT_UNSUPPORTED: usage("The model's input has unknown dimensions, or a rank or channel count not supported."),
  MODEL_OUTPUT_UNSUPPORTED: usage("The model's output is not one vector of class scores (at least 2 classes)."),
  MODEL_METADATA_INVALID: usage("metadata.json beside the model is not valid JSON or has malformed fields."),
  PREPROCESS_REQUIRED: usage("The model's input preprocessing is not recognisable: name a preset with --preprocess."),
  CLASS_NAMES_INVALID: usage("Class names do not fit the model: wrong count, empty or repeated names."),
  VECTOR_RANGES_REQUIRED: usage("A vector model's feature ranges come from data: pass a csv dataset."),
  MODEL_WEIGHTS_MISMATCH: usage("A model's weights are not those of the source whose file layout it is saved in."),
  DATASET_MODEL_MISMATCH: usage("The dataset's input shape or class count does not match the model."),
  DATASET_EMPTY: usage("A dataset folder or file holds no examples."),
  DATASET_TOO_FEW_CLASSES: usage("A labelled dataset has examples of fewer than 2 classes."),
  DATASET_CLASS_UNKNOWN: usage("A class folder or label is not one of the model's class names."),
  DATASET_UNLABELLED: usage("The dataset has no labels (unlabeled:<dir>), but labels are needed here."),
  DATASET_CSV_MALFORMED: usage("A CSV file is malformed: a ragged row, a stray or unclosed quote, or a bad header."),
  DATASET_CSV_NOT_NUMERIC: usage("A CSV feature cell is empty or not a decimal number."),
  DATASET_CSV_LABEL_COLUMN: usage("The CSV label column is missing from the header, or named twice."),
  IMAGE_UNSUPPORTED: usage("A file is not a PNG, JPEG or WebP image (by its name or its content)."),
  IMAGE_CORRUPT: usage("An image file could not be decoded: truncated, damaged, or not what its name says."),
  IMAGE_COLOURSPACE: usage("An image is in a colour space provmark does not convert (CMYK): save it as sRGB."),
  IMAGE_SIZE: usage("An image has another size than required, and no resize policy applies."),
  CHAIN_UNREACHABLE: usage("The JSON-RPC endpoint did not answer (down, wrong URL, or blocked)."),
  CHAIN_RPC_ERROR: usage("The JSON-RPC endpoint answered with an error or a malformed result."),
  CHAIN_ID_MISMATCH: usage("The endpoint serves another chain than the one expected."),
  CHAIN_SIGNER_MISSING: usage("A transaction needs a signer: set PROVMARK_PRIVATE_KEY or pass --keystore."),
  CHAIN_KEYSTORE_INVALID: usage("The JSON keystore is unreadable, or its passphrase is wrong."),
  CHAIN_INSUFFICIENT_FUNDS: usage("The signer's account cannot pay for the transaction's gas."),
  CHAIN_TX_FAILED: usage("A transaction was reverted, dropped or replaced; nothing was recorded."),
  CHAIN_JOURNAL_INVALID: usage("The embedded chain's journal is damaged or does not replay as recorded."),
  CHAIN_BUSY: usage("Another provmark process holds the embedded chain's lock."),
  REGISTRY_NOT_DEPLOYED: usage("No ProvenanceRegistry is known (or has code) on this chain: deploy one first."),
  REGISTRY_DUPLICATE_DIGEST: usage("That digest is registered already in this model (unique per model, forever)."),
  REGISTRY_UNKNOWN_PARENT: usage("The parent digest is not a registered version of this model."),
  REGISTRY_REVOKED_PARENT: usage("The parent version is revoked; a revoked version cannot have children."),
  REGISTRY_UNKNOWN_VERSION: usage("The digest is not registered (in that model namespace)."),
  REGISTRY_ALREADY_REVOKED: usage("The version is revoked already."),
  REGISTRY_NOT_AUTHORIZED: usage("The signer is not the model's owner or a maintainer."),
  REGISTRY_CERTIFICATE_MISMATCH: usage("A claim cites another certificate than the version was registered with."),
  REGISTRY_UNKNOWN_MODEL: usage("No model namespace has that name or id."),
  REGISTRY_SIGNATURE_REJECTED: usage("The EIP-712 signature is expired, replayed, or for another signer/chain."),
  REGISTRY_REVERTED: usage("The registry rejected the call for another reason (see the decoded error)."),
  RELAY_REQUEST_INVALID: usage("The signed registration request file is malformed or internally inconsistent."),
  RELAY_WRONG_CHAIN: usage("The signed request is for another chain than the one configured."),
  RELAY_WRONG_REGISTRY: usage("The signed request is for another registry contract than the one configured."),
  RELAY_SIGNATURE_EXPIRED: usage("The signed request's deadline has passed: the owner must sign again."),
  RELAY_NONCE_USED: usage("The signed request's nonce is used already: it was relayed, or superseded."),
  RELAY_NONCE_AHEAD: usage("The signed request's nonce is ahead of the signer's: relay the earlier requests first."),
  RELAY_SIGNATURE_INVALID: usage("The signature does not match the request: it was altered or signed by another key."),
  OWNER_REQUIRED: usage("A registration check has no expected owner while one is required (--owner / PROVMARK_OWNER)."),
  MODEL_UNREGISTERED: { exit: ExitCode.unregistered, summary: "The model's digest is not registered." },
  MODEL_REVOKED: { exit: ExitCode.revoked, summary: "The model's digest is registered but revoked." },
  MANIFEST_INVALID: usage("A release manifest is not valid JSON or does not match its schema."),
  IPFS_UNREACHABLE: usage("The Kubo RPC API did not answer (daemon down or wrong --ipfs-api URL)."),
  IPFS_API_ERROR: usage("The Kubo RPC API answered with an error."),
  IPFS_CID_INVALID: usage("A string that should be a CID is not one."),
  IPFS_NOT_FOUND: usage("The CID's content is not in the store (or could not be fetched in time)."),
  IPFS_CONTENT_INVALID: usage("Content read back from IPFS does not hash to its CID or is malformed."),
  ENVELOPE_INVALID: usage("An encrypted artifact envelope is malformed or truncated."),
  ENVELOPE_DECRYPT_FAILED: usage("An encrypted artifact could not be decrypted: wrong key, or it was altered."),
  DETECT_JOURNAL_INVALID: usage("A detection run's journal is damaged, or was made for another suspect."),
  DETECT_RUN_DIR_FOREIGN: usage(
    "The --run directory is not one provmark made, or holds other files: --fresh never deletes it.",
  ),
  DETECT_PLAN_MISMATCH: usage("An unfinished detection run was planned with other settings (rerun them, or --fresh)."),
  SUSPECT_MODEL_MISMATCH: usage(
    "A local suspect or reference model does not take the certificate's inputs or classes.",
  ),
  ENDPOINT_BAD_RESPONSE: usage(
    "A suspect's answer is not one provmark reads: not JSON, no score, or an unknown shape (--protocol raw).",
  ),
  ENDPOINT_CLASS_UNKNOWN: usage("A suspect answered a class name that is not one of the certificate's class names."),
  SUSPECT_URL_HTTP_STATUS: usage(
    "A suspect model file (--protocol url) was answered with another HTTP status than 200.",
  ),
  SUSPECT_URL_UNREACHABLE: usage("A suspect model file (--protocol url) could not be fetched: network error."),
  SUSPECT_URL_TIMEOUT: usage("A suspect model file (--protocol url) did not arrive within --timeout."),
  SUSPECT_URL_TOO_LARGE: usage(
    "A suspect model (--protocol url) is larger than --max-download (or model.json than 16 MiB).",
  ),
  SUSPECT_URL_CROSS_ORIGIN: usage(
    "A suspect model URL redirected to another origin; only same-origin redirects are followed.",
  ),
  SUSPECT_URL_NOT_MODEL: usage("The suspect URL does not serve a TF.js model.json (not JSON, or no weightsManifest)."),
  SUSPECT_URL_GRAPH_MODEL: usage("The suspect URL serves a GraphModel: the white-box test needs a LayersModel."),
  SIGNATURE_FILE_MISSING: usage("The model signature (model.sig, or --signature) does not exist."),
  SIGNATURE_BUNDLE_INVALID: usage("A model signature is not a model-signing (Sigstore v0.3 bundle, DSSE) JSON file."),
  SIGNATURE_UNSUPPORTED: usage(
    "A model signature uses a serialization or hash provmark does not verify (only files/sha256).",
  ),
  SIGNATURE_KEY_INVALID: usage(
    "A signing key or certificate is unreadable, not ECDSA P-256/P-384/P-521, or does not match its pair.",
  ),
  PATH_SYMLINK: usage("A model directory holds a symlink, which model-signing's files serialization refuses."),
  SIGNATURE_INVALID: {
    exit: ExitCode.signatureInvalid,
    summary: "The DSSE signature does not verify with the given public key (or the certificate's key).",
  },
  SIGNATURE_CHAIN_UNTRUSTED: {
    exit: ExitCode.signatureInvalid,
    summary: "The signing certificate does not chain to a given root, is not valid then, or may not sign code.",
  },
  SIGNATURE_STATEMENT_INVALID: {
    exit: ExitCode.signatureInvalid,
    summary: "The signed in-toto statement is not a model-signing v1.0 statement, or is inconsistent.",
  },
  SIGNATURE_DIGEST_MISMATCH: {
    exit: ExitCode.signatureInvalid,
    summary: "The model's files differ from the signed ones: a file was changed, added, removed or renamed.",
  },
  EXTRACT_UNAUTHORIZED: usage(
    "attack extract: the API refused the queries (HTTP 401/403): no key, a wrong or revoked one.",
  ),
  EXTRACT_NO_SCORES: usage("attack extract --answers probabilities: the API answers labels only, no score per class."),
  EXTRACT_NO_ANSWERS: usage("attack extract: the API answered none of the first batch of queries."),
  EVIDENCE_INVALID: usage("An evidence report is not valid JSON or does not match its schema."),
  GUARD_CONFIG_INVALID: usage(
    "A guard config file is not JSON or does not match its schema (every problem is listed).",
  ),
  GUARD_KEYS_INVALID: usage("A guard keys file is not JSON or does not match its schema (every problem is listed)."),
  GUARD_KEY_UNKNOWN: usage("No key with that id is in the guard keys file."),
  GUARD_AUDIT_INVALID: usage(
    "A guard audit log's hash chain does not verify: an entry was deleted, rewritten, reordered or truncated.",
  ),
  DAWN_LOG_INVALID: usage(
    "A DAWN watermark log is not a provmark log, or a record other than a torn last one is damaged.",
  ),
  DAWN_LOG_DECRYPT_FAILED: usage(
    "A DAWN watermark log record does not decrypt: the record was altered, moved or cut out.",
  ),
  DAWN_LOG_WRONG_KEY: usage("The key file is not the one the DAWN watermark log was written with."),
  TRAINING_DIVERGED: { exit: 1, summary: "Training produced a non-finite loss." },
  INTERNAL: { exit: ExitCode.internal, summary: "An unexpected internal error (a bug: please report it)." },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof ErrorCodes;

export interface ProvmarkErrorOptions {
  /** What to check or do next, one line each. */
  hints?: readonly string[];
  /** The file, flag or endpoint the error is about. */
  subject?: string;
  cause?: unknown;
}

export class ProvmarkError extends Error {
  override readonly name = "ProvmarkError";
  readonly code: ErrorCode;
  readonly hints: readonly string[];
  readonly subject: string | undefined;

  constructor(code: ErrorCode, message: string, options: ProvmarkErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hints = options.hints ?? [];
    this.subject = options.subject;
  }

  get exitCode(): number {
    return ErrorCodes[this.code].exit;
  }

  /** A JSON-safe view for `--json` output; never includes secrets because messages never do. */
  toJSON(): { code: ErrorCode; message: string; subject?: string; hints: readonly string[] } {
    return {
      code: this.code,
      message: this.message,
      ...(this.subject === undefined ? {} : { subject: this.subject }),
      hints: this.hints,
    };
  }
}

export function isProvmarkError(e: unknown, code?: ErrorCode): e is ProvmarkError {
  return e instanceof ProvmarkError && (code === undefined || e.code === code);
}

/** Node's fs error codes turned into provmark codes, naming the path. */
export function fromFsError(e: unknown, path: string, what = "read"): ProvmarkError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") {
    return new ProvmarkError("PATH_NOT_FOUND", `${path} does not exist`, {
      subject: path,
      cause: e,
      hints: ["Check the path for typos; relative paths are resolved from the current directory."],
    });
  }
  if (code === "ENOTDIR") {
    return new ProvmarkError("PATH_NOT_DIRECTORY", `${path} is not a directory`, { subject: path, cause: e });
  }
  if (code === "EACCES" || code === "EPERM") {
    return new ProvmarkError("PATH_UNREADABLE", `cannot ${what} ${path}: permission denied`, {
      subject: path,
      cause: e,
      hints: ["Check the file's permissions (ls -l) and the user provmark runs as."],
    });
  }
  if (code === "EISDIR") {
    return new ProvmarkError("PATH_UNREADABLE", `cannot ${what} ${path}: it is a directory`, {
      subject: path,
      cause: e,
    });
  }
  return new ProvmarkError("PATH_UNREADABLE", `cannot ${what} ${path}: ${(e as Error)?.message ?? String(e)}`, {
    subject: path,
    cause: e,
  });
}
