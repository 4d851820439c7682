/**
 * Runs the serve command as the CLI would (argv[2]: its flags as JSON), for serve-command.test.ts:
 * program.ts wires the command separately.
 */
import { serve } from "../../src/cli/commands/serve.js";
import { reportError } from "../../src/cli/output.js";

const flags = JSON.parse(process.argv[2] ?? "{}");
try {
  await serve(flags, { backend: "wasm" });
} catch (e) {
  process.exitCode = reportError(e, { json: flags.json === true });
}
