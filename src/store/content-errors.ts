import { ProvmarkError } from "../errors.js";

/** What the unixfs exporter throws when the blocks are sound but do not make one file. */
const NOT_A_FILE = new Set(["NotAFileError", "NoContentError"]);
const MALFORMED = new Set(["NotUnixFSError", "NoResolverError", "OverReadError", "UnderReadError"]);

/** IPFS_CONTENT_INVALID for a CID whose DAG is not a readable UnixFS file; undefined for other errors. */
export function notAFileError(e: unknown, root: string): ProvmarkError | undefined {
  const name = (e as Error)?.name;
  if (NOT_A_FILE.has(name)) {
    return new ProvmarkError("IPFS_CONTENT_INVALID", `${root} is not a file (a directory or another kind of DAG)`, {
      subject: root,
      cause: e,
      hints: ["provmark stores each artifact as a single file; check the CID."],
    });
  }
  if (MALFORMED.has(name)) {
    return new ProvmarkError(
      "IPFS_CONTENT_INVALID",
      `${root} is not a well-formed UnixFS file: ${(e as Error).message}`,
      {
        subject: root,
        cause: e,
      },
    );
  }
  return undefined;
}
