import { ErrorCodes, ExitCode, isProvmarkError, ProvmarkError } from "../errors.js";
import { scrubRpcSecrets } from "../ledger/redact-rpc-url.js";

export interface OutputOptions {
  json?: boolean;
}

/** Prints a command's result: JSON on stdout with --json, else the human rendering. */
export function emit<T>(result: T, opts: OutputOptions, human: (r: T) => string): void {
  if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else process.stdout.write(human(result).replace(/\n?$/, "\n"));
}

/** Reports an error (coded; stack only with --debug) and returns the exit code to use. */
export function reportError(e: unknown, opts: { json?: boolean; debug?: boolean }): number {
  const err = isProvmarkError(e)
    ? e
    : new ProvmarkError("INTERNAL", (e as Error)?.message ?? String(e), {
        cause: e,
        hints: ["This is a bug in provmark; rerun with --debug and report the output."],
      });
  // an RPC key a message picked up anywhere (a server's echo, a bug) never reaches the terminal
  if (opts.json) {
    process.stdout.write(`${scrubRpcSecrets(JSON.stringify({ error: err.toJSON() }, null, 2))}\n`);
  } else {
    const lines = [`error[${err.code}]: ${err.message}`, ...err.hints.map((h) => `  hint: ${h}`)];
    process.stderr.write(`${scrubRpcSecrets(lines.join("\n"))}\n`);
  }
  if (opts.debug) {
    const stack = (err.code === "INTERNAL" ? (err.cause as Error | undefined) : err)?.stack;
    if (stack) process.stderr.write(`${stack}\n`);
  }
  return ErrorCodes[err.code]?.exit ?? ExitCode.internal;
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(2)} ${units[i]}`;
}

/** Left-aligned text table. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) {
    for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  }
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ")).join("\n");
}
