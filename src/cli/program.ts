import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { ProvmarkError } from "../errors.js";
import { reportError } from "./output.js";

/** Options every command sees (program-level flags). */
export interface GlobalOptions {
  debug?: boolean;
  dataDir?: string;
  backend?: string;
}

const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };

function intArg(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new ProvmarkError("USAGE", `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`, {
        subject: name,
      });
    }
    return n;
  };
}

/** Builds the program; each action lazy-imports its command so `--help` stays instant. */
export function buildProgram(): Command {
  const program = new Command("provmark")
    .description("Watermark, register and detect stolen TensorFlow.js models.")
    .version(pkg.version, "-V, --version")
    .option("--debug", "print stack traces for errors")
    .option("--data-dir <dir>", "state directory (default: $PROVMARK_HOME or ~/.provmark)")
    .addOption(
      new Option("--backend <name>", "TensorFlow.js backend (default: $PROVMARK_BACKEND or auto)").choices([
        "auto",
        "tensorflow",
        "wasm",
        "cpu",
      ]),
    )
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();

  program
    .command("doctor")
    .description("show the TensorFlow.js backend, versions, data dir, chain and IPFS settings")
    .option("--json", "machine-readable output")
    .action(async (opts: { json?: boolean }) => (await import("./commands/doctor.js")).doctor(opts, globals()));

  program
    .command("hash")
    .description("files digest and canonical weights digest of a model directory")
    .argument("<path>", "model directory (or a *weights_manifest.json file)")
    .option("--files-only", "only the files digest (any directory, not only models)")
    .option("--json", "machine-readable output")
    .action(async (path: string, opts: { json?: boolean; filesOnly?: boolean }) =>
      (await import("./commands/hash.js")).hash(path, opts),
    );

  program
    .command("inspect")
    .description("format, layers, weights, parameter count, quantization and size of a model")
    .argument("<path>", "model directory (or a *weights_manifest.json file)")
    .option("--json", "machine-readable output")
    .action(async (path: string, opts: { json?: boolean }) =>
      (await import("./commands/inspect.js")).inspect(path, opts),
    );

  program
    .command("train")
    .description("train a reproducible baseline model on a dataset")
    .requiredOption("--out <dir>", "where to write the trained model (LayersModel directory)")
    .option("--dataset <spec>", "mnist (built in) or idx:<dir>", "mnist")
    .addOption(new Option("--arch <arch>", "model architecture").choices(["mlp", "cnn"]).default("mlp"))
    .option("--epochs <n>", "training epochs (default: per architecture)", intArg("--epochs", 1, 1000))
    .option("--batch-size <n>", "batch size", intArg("--batch-size", 1, 65536))
    .option("--seed <n>", "random seed (weights init, shuffling, dropout)", intArg("--seed", 0, 2 ** 31 - 1), 1)
    .option("--force", "replace --out if it exists")
    .option("--json", "machine-readable output")
    .action(async (opts) => (await import("./commands/train.js")).train(opts, globals()));

  return program;
}

/** Runs the CLI and returns the exit code (never throws). */
export async function run(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.includes("--json");
  const debug = argv.includes("--debug");
  try {
    await program.parseAsync(argv as string[], { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed help/version or the usage message.
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.exitCode === 0) return 0;
      return 2;
    }
    return reportError(e, { json, debug });
  }
}
