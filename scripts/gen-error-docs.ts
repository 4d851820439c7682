/** Prints docs/errors.md from the error catalogue (`tsx scripts/gen-error-docs.ts > docs/errors.md`). */
import { ErrorCodes } from "../src/errors.js";

const rows = Object.entries(ErrorCodes).map(([code, info]) => `| \`${code}\` | ${info.exit} | ${info.summary} |`);
process.stdout.write(
  [
    "# Error codes",
    "",
    "Every failure is a `ProvmarkError` with one of these stable codes; scripts should match on the code,",
    'never on the message. The CLI prints `error[CODE]: message` plus hints (or `{"error": {...}}` with',
    "`--json`) and exits with the code's exit status. Generated from `src/errors.ts`; a test keeps it current.",
    "",
    "| code | exit | meaning |",
    "| --- | --- | --- |",
    ...rows,
    "",
    "## Exit codes",
    "",
    "| exit | meaning |",
    "| --- | --- |",
    "| 0 | success; `verify`: watermarked; `detect`: stolen; `evidence verify`: every check passed |",
    "| 1 | internal error (a bug: rerun with `--debug` and report it) |",
    "| 2 | usage or input error (every code above marked 2) |",
    "| 3 | `verify`, `detect`: not detected; `check-reveal`, `evidence verify`: a proof or check failed |",
    "| 4 | `verify`, `detect`: inconclusive (p above α but at most 0.01, too many failed queries, or no test could run) |",
    "| 5 | `check`, `history`: not registered (`MODEL_UNREGISTERED`) |",
    "| 6 | `check`: the model's digest is registered but revoked (`MODEL_REVOKED`) |",
    "| 7 | `verify-signature`, `check --signature`: the model signature does not verify (`SIGNATURE_INVALID`, `SIGNATURE_CHAIN_UNTRUSTED`, `SIGNATURE_STATEMENT_INVALID`, `SIGNATURE_DIGEST_MISMATCH`) |",
    "",
  ].join("\n"),
);
