import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { ProvmarkError } from "../errors.js";
import { EMBED_DEFAULTS } from "../watermark/embed-defaults.js";
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

function numArg(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
      throw new ProvmarkError("USAGE", `${name} must be a number from ${min} to ${max}, got ${JSON.stringify(v)}`, {
        subject: name,
      });
    }
    return n;
  };
}

function shapeArg(v: string): [number, number, number] {
  const parts = v.split(/[,x×]/).map((s) => Number(s.trim()));
  if (parts.length !== 3 || parts.some((n) => !Number.isInteger(n) || n < 1 || n > 4096)) {
    throw new ProvmarkError("USAGE", `--input-shape must be H,W,C (e.g. 28,28,1), got ${JSON.stringify(v)}`, {
      subject: "--input-shape",
    });
  }
  return parts as [number, number, number];
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Flags that say what a model's files cannot: how it scales pixels, its class names (commands/model-io-flags.ts). */
function withModelIOFlags(cmd: Command): Command {
  return cmd
    .option(
      "--preprocess <preset>",
      "pixel preprocessing the model was trained with, e.g. pixel/255 (a wrong name lists all)",
    )
    .option("--class-names <names>", "class names in output order: comma-separated, or a JSON list")
    .addOption(
      new Option("--resize <mode>", "how encoded images of another size are fitted to the input").choices([
        "stretch",
        "center-crop",
        "pad",
      ]),
    );
}

/** Builds the program; each action lazy-imports its command so `--help` stays instant. */
export function buildProgram(): Command {
  const program = new Command("provmark")
    .description("Watermark, register and detect stolen TensorFlow.js models.")
    // not "--version": register and manifest take a --version <label> of their own (run() handles
    // a leading --version)
    .version(pkg.version, "-V", "output the version number (also: provmark --version)")
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
    .command("sign")
    .description(
      "sign a model directory in OpenSSF model-signing's v1.x format (model.sig), with a key or a certificate",
    )
    .argument("<dir>", "model directory (or a single model file)")
    .requiredOption(
      "--private-key <pem>",
      "ECDSA P-256/P-384/P-521 private key, PEM (if encrypted: $PROVMARK_SIGNING_PASSPHRASE, else asked)",
    )
    .option("--signing-certificate <pem>", "certificate method: the signer's X.509 certificate (PEM)")
    .option("--certificate-chain <pem>", "certificate method: intermediates up to the root, repeatable", collect)
    .option("--signature <path>", "where to write the signature (default: <dir>/model.sig)")
    .option("--ignore-paths <path>", "file or directory left out of the signature, repeatable", collect)
    .option("--no-ignore-git-paths", "also sign .git, .gitattributes, .github and .gitignore")
    .option("--force", "replace an existing signature file")
    .option("--json", "machine-readable output")
    .action(async (dir: string, opts) => (await import("./commands/sign.js")).sign(dir, opts));

  program
    .command("verify-signature")
    .description("verify a model against a model-signing v1.x signature (exit 0 verified, 7 not)")
    .argument("<dir>", "model directory (or a single model file)")
    .option("--public-key <pem>", "key method: the signer's public key (PEM)")
    .option("--certificate-chain <pem>", "certificate method: trusted root certificate(s), repeatable", collect)
    .option("--signature <path>", "the signature (default: <dir>/model.sig)")
    .option(
      "--ignore-paths <path>",
      "file or directory to skip (besides those the signature names), repeatable",
      collect,
    )
    .option("--no-ignore-git-paths", "do not skip .git, .gitattributes, .github and .gitignore")
    .option("--json", "machine-readable output")
    .action(async (dir: string, opts) => (await import("./commands/verify-signature.js")).verifySignature(dir, opts));

  program;
  withModelIOFlags(
    program
      .command("inspect")
      .description(
        "format, layers (nested ones by full path), weights, size, and the inputs, classes and carrier layer keygen would infer",
      )
      .argument("<path>", "model directory (or a *weights_manifest.json file)")
      .option("--no-io", "do not load the model with TensorFlow.js (no inferred inputs, classes or carrier)")
      .option("--json", "machine-readable output"),
  ).action(async (path: string, opts) => (await import("./commands/inspect.js")).inspect(path, opts, globals()));

  program
    .command("train")
    .description("train a reproducible baseline model on a dataset")
    .requiredOption("--out <dir>", "where to write the trained model (LayersModel directory)")
    .option("--dataset <spec>", "mnist (built in), idx:<dir> or images:<dir> (a folder per class)", "mnist")
    .addOption(new Option("--arch <arch>", "model architecture").choices(["mlp", "mlp-small", "cnn"]).default("mlp"))
    .option("--epochs <n>", "training epochs (default: per architecture)", intArg("--epochs", 1, 1000))
    .option("--batch-size <n>", "batch size", intArg("--batch-size", 1, 65536))
    .option("--seed <n>", "random seed (weights init, shuffling, dropout)", intArg("--seed", 0, 2 ** 31 - 1), 1)
    .option("--force", "replace --out if it exists")
    .option("--json", "machine-readable output")
    .action(async (opts) => (await import("./commands/train.js")).train(opts, globals()));

  withModelIOFlags(
    program
      .command("keygen")
      .description("create an encrypted watermark key (secret seed + parameters; file mode 0600)")
      .requiredOption("--out <file>", "where to write the key file")
      .option(
        "--model <dir>",
        "the model to mark: its input, classes, preprocessing and carrier layer are inferred (printed with why)",
      )
      .option("--classes <n>", "number of classes, without --model (default 10)", intArg("--classes", 2, 10_000))
      .option("--input-shape <h,w,c>", "model input shape, without --model (default 28,28,1)", shapeArg)
      .option("--layer <name>", "carrier layer (default: chosen from --model, else dense1)")
      .option("--bits <n>", "weight watermark message length", intArg("--bits", 1, 256), 64)
      .option(
        "--triggers <n>",
        "trigger set size (default: 100, or more when the class count needs it for p <= 1e-30 on half the set)",
        intArg("--triggers", 1, 100_000),
      )
      .addOption(
        new Option(
          "--family <family>",
          "trigger family: out-of-distribution noise, stamped in-distribution images, or both",
        )
          .choices(["noise", "stamp", "mixed"])
          .default("noise"),
      )
      .option(
        "--stamp-strength <x>",
        "stamp amplitude in [0, 1] (stamp and mixed families)",
        numArg("--stamp-strength", 0, 1),
        0.3,
      )
      .option(
        "--dataset <spec>",
        "the owner's data: stamp base images, or csv:<file> feature ranges for tabular models (default mnist)",
      )
      .option("--label-column <name>", "csv datasets: the label column (default: the last)")
      .option("--force", "replace --out if it exists")
      .option("--json", "machine-readable output"),
  ).action(async (opts) => (await import("./commands/keygen.js")).keygen(opts));

  program
    .command("embed")
    .description("embed the weight and trigger-set watermarks by fine-tuning; writes the model and its certificate")
    .requiredOption("--model <dir>", "model to watermark (LayersModel directory)")
    .requiredOption("--key <file>", "watermark key (passphrase from $PROVMARK_PASSPHRASE or a prompt)")
    .requiredOption("--out <dir>", "where to write the watermarked model")
    .option(
      "--dataset <spec>",
      "clean training data: mnist, idx:<dir>, images:<dir> (a folder per class) or unlabeled:<dir>",
      "mnist",
    )
    .addOption(
      new Option("--targets <how>", "train clean examples towards their labels or the original model's answers")
        .choices(["auto", "labels", "teacher"])
        .default("auto"),
    )
    .addOption(
      new Option("--augment <when>", "seeded crops, flips and colour jitter (auto: under 1,000 examples)")
        .choices(["auto", "on", "off"])
        .default("auto"),
    )
    .addOption(
      new Option("--freeze <what>", "leave the layers before the carrier as they are, or fine-tune everything")
        .choices(["before-carrier", "none"])
        .default("before-carrier"),
    )
    .option(
      "--max-epochs <n|auto>",
      "upper bound on fine-tuning epochs; stops early once both marks hold (auto: 4, or 2,400 steps on under 1,000 examples)",
      (v: string) => (v === "auto" ? "auto" : intArg("--max-epochs", 1, 1000)(v)),
      "auto",
    )
    .option(
      "--lambda <x>",
      `weight of the weight-watermark loss (default: ${EMBED_DEFAULTS.lambda})`,
      numArg("--lambda", 0, 1000),
    )
    .option(
      "--trigger-ratio <x>",
      `triggers per clean example in each batch (default: ${EMBED_DEFAULTS.triggerRatio})`,
      numArg("--trigger-ratio", 0.01, 4),
    )
    .option(
      "--learning-rate <x>",
      `Adam learning rate (default: ${EMBED_DEFAULTS.learningRate})`,
      numArg("--learning-rate", 1e-7, 1),
    )
    .option("--force", "replace --out if it exists")
    .option("--json", "machine-readable output")
    .action(async (opts) => (await import("./commands/embed.js")).embed(opts, globals()));

  program
    .command("verify")
    .description("test a local model for both watermarks; exit 0 watermarked, 3 not detected, 4 inconclusive")
    .requiredOption("--model <dir>", "model to test")
    .requiredOption("--key <file>", "watermark key")
    .option("--reference <dir>", "an unmarked reference model for the empirical null (repeatable)", collect)
    .option("--alpha <p>", "false-positive level of the decision", numArg("--alpha", 1e-300, 0.5))
    .option("--json", "machine-readable output")
    .action(async (opts) => (await import("./commands/verify.js")).verify(opts, globals()));

  program
    .command("reveal")
    .description("export a random subset of triggers with Merkle proofs, for a dispute")
    .requiredOption("--key <file>", "watermark key")
    .requiredOption("--certificate <path>", "watermark-certificate.json, or the marked model directory")
    .requiredOption("--count <k>", "how many triggers to reveal", intArg("--count", 1, 100_000))
    .requiredOption("--out <file>", "where to write the reveal")
    .option("--weight-mark", "v2: also reveal the weight mark's projection and message (anyone can then re-extract it)")
    .option("--json", "machine-readable output")
    .action(async (opts) => (await import("./commands/reveal.js")).reveal(opts));

  program
    .command("check-reveal")
    .description("check revealed triggers against a certificate, without the key (exit 3 if any fails)")
    .requiredOption("--reveal <file>", "file written by provmark reveal")
    .requiredOption("--certificate <path>", "watermark-certificate.json, or the marked model directory")
    .option("--json", "machine-readable output")
    .action(async (opts) => (await import("./commands/reveal.js")).checkRevealCmd(opts));

  // ---------------------------------------------------------------- ledger

  program
    .command("register")
    .description("record a model version on chain: digest, parent, certificate hash, manifest CID (IPFS)")
    .requiredOption("--model <dir>", "the released model directory")
    .option("--cert <file>", "watermark certificate (default: <dir>/watermark-certificate.json if present)")
    .option("--parent <digest>", "files digest of the version this one derives from")
    .option("--name <name>", "model namespace, created on first use (default: the directory's name)")
    .option("--version <version>", "version label (default: the digest's first 12 hex digits)")
    .option("--license <spdx>", "license of the weights (manifest metadata)")
    .option("--training-data <ref>", "training data reference, repeatable (manifest metadata)", collect)
    .option("--description <text>", "free-form description (manifest metadata)")
    .option("--meta <key=value>", "extra manifest metadata, repeatable", collect)
    .option("--upload", "also add the model's files to IPFS (CIDs recorded in the manifest)")
    .option("--encrypt", "with --upload: seal each file in an AES-256-GCM envelope (key derived from --key)")
    .option("--key <file>", "watermark key file the envelope key derives from")
    .addOption(
      new Option("--profile <name>", "IPFS import profile")
        .choices(["unixfs-v1-2025", "kubo-legacy"])
        .default("unixfs-v1-2025"),
    )
    .option("--manifest-out <file>", "also write the release manifest to this file")
    .option("--sign-only", "sign the registration (EIP-712) for a relayer instead of sending it; needs --out")
    .option("--out <file>", "with --sign-only: where to write the signed request")
    .option("--valid-for <duration>", "with --sign-only: how long the signature is valid (30m, 24h, 7d; default 24h)")
    .option("--nonce <n>", "with --sign-only: the nonce to sign (default: the signer's next; for several requests)");
  withLedgerFlags(program.commands.at(-1) as Command, { write: true }).action(async (opts) =>
    (await import("./commands/register.js")).register(opts, globals()),
  );

  withLedgerFlags(
    program
      .command("relay")
      .description("submit a registration an owner signed (register --sign-only), paying its gas")
      .argument("<file>", "the signed request file"),
    { write: true },
  ).action(async (file: string, opts) => (await import("./commands/relay.js")).relay(file, opts, globals()));

  withLedgerFlags(
    program
      .command("history")
      .description("a model's versions (by name) or a version's lineage (by digest), with revocations")
      .argument("<model-or-digest>", "model name, or a version's files digest"),
  ).action(async (target: string, opts) => (await import("./commands/history.js")).history(target, opts, globals()));

  withLedgerFlags(
    program
      .command("check")
      .description("hash a directory and look it up: registered (exit 0), unregistered (5) or revoked (6)")
      .argument("<dir>", "model directory")
      .option("--manifest", "also fetch the version's manifest from IPFS and check it against the chain")
      .option("--model <name>", "the model name the owner must have released it under")
      .option("--model-id <id>", "the model namespace id it must be registered in (0x…, 32 bytes)")
      .option(
        "--require-owner",
        "fail (exit 2) instead of warning when no --owner is given (or PROVMARK_REQUIRE_OWNER=1)",
      )
      .option(
        "--signature <path>",
        "also verify this model-signing signature (default with a key flag: <dir>/model.sig)",
      )
      .option("--public-key <pem>", "the signature's signer public key (model-signing key method)")
      .option("--certificate-chain <pem>", "trusted root(s) for a certificate-method signature, repeatable", collect),
  ).action(async (dir: string, opts) => (await import("./commands/check.js")).check(dir, opts, globals()));

  withLedgerFlags(
    program
      .command("revoke")
      .description("mark a version revoked, with a reason (the record stays; check then reports it)")
      .argument("<digest>", "the version's files digest")
      .requiredOption("--reason <text>", "why, for the record (stored in the event log)"),
    { write: true },
  ).action(async (digest: string, opts) => (await import("./commands/revoke.js")).revoke(digest, opts, globals()));

  withLedgerFlags(
    program
      .command("manifest")
      .description("build a release manifest without registering it (input for batch-anchor)")
      .requiredOption("--model <dir>", "model directory")
      .requiredOption("--out <file>", "where to write the manifest JSON")
      .option("--cert <file>", "watermark certificate (default: <dir>/watermark-certificate.json if present)")
      .option("--parent <digest>", "files digest of the parent version")
      .option("--name <name>", "model namespace (default: the directory's name)")
      .option("--version <version>", "version label (default: the digest's first 12 hex digits)")
      .option("--license <spdx>", "license of the weights")
      .option("--training-data <ref>", "training data reference, repeatable", collect)
      .option("--description <text>", "free-form description")
      .option("--meta <key=value>", "extra metadata, repeatable", collect)
      .option("--force", "replace --out if it exists"),
  ).action(async (opts) => (await import("./commands/batch.js")).manifest(opts));

  withLedgerFlags(
    program
      .command("batch-anchor")
      .description("anchor many release manifests under one Merkle root (one transaction)")
      .argument("<manifests...>", "release manifest files")
      .option("--out <file>", "write the batch document (every record's Merkle proof) here"),
    { write: true },
  ).action(async (manifests: string[], opts) =>
    (await import("./commands/batch.js")).batchAnchor(manifests, opts, globals()),
  );

  withLedgerFlags(
    program
      .command("deploy")
      .description("deploy a ProvenanceRegistry to --rpc and record it under <data dir>/deployments/")
      .option("--force", "deploy a new registry even if one is recorded for this chain"),
    { write: true },
  ).action(async (opts) => (await import("./commands/deploy.js")).deploy(opts, globals()));

  program
    .command("chain")
    .description("serve the embedded persistent chain over JSON-RPC (other commands then use it)")
    .option("--host <host>", "interface to listen on (not loopback: needs --allow-remote)", "127.0.0.1")
    .option("--allow-remote", "allow a non-loopback --host, serving without unlocked accounts")
    .option("--port <port>", "TCP port (0 picks a free one)", intArg("--port", 0, 65535), 8545)
    .option("--json", "machine-readable output (one line once listening)")
    .action(async (opts) => (await import("./commands/chain.js")).chain(opts, globals()));

  program
    .command("account")
    .description("EVM accounts for signing transactions")
    .command("new")
    .description("create a random account as an encrypted JSON keystore (mode 0600)")
    .requiredOption("--out <file>", "keystore file to write")
    .option("--force", "replace --out if it exists")
    .option("--json", "machine-readable output")
    .action(async (opts) => (await import("./commands/account.js")).accountNew(opts));

  const attack = program
    .command("attack")
    .description("removal and extraction attacks, to test a watermark's robustness");
  attack
    .command("finetune")
    .description("fine-tune a (stolen) model on clean data, as a thief would to erase a watermark")
    .requiredOption("--model <dir>", "the model to attack")
    .requiredOption("--out <dir>", "where to write the attacked model")
    .option("--dataset <spec>", "clean data the attacker has", "mnist")
    .option("--epochs <n>", "fine-tuning epochs", intArg("--epochs", 1, 1000), 1)
    .option("--lr <x>", "Adam learning rate", numArg("--lr", 1e-7, 1), 1e-3)
    .option("--batch-size <n>", "batch size", intArg("--batch-size", 1, 65536), 128)
    .option("--seed <n>", "shuffling seed", intArg("--seed", 0, 2 ** 31 - 1), 7)
    .option("--force", "replace --out if it exists")
    .option("--json", "machine-readable output")
    .action(async (opts) => (await import("./commands/attack.js")).attackFinetune(opts, globals()));
  attack
    .command("extract")
    .description("steal a model through its HTTP API: train a surrogate on its answers (the lab's thief)")
    .requiredOption("--endpoint <url>", "the API's base URL (raw: the URL images are POSTed to)")
    .addOption(
      new Option("--protocol <name>", "how to talk to the API")
        .choices(["tfserving", "kserve", "json", "raw"])
        .default("tfserving"),
    )
    .option("--model-name <name>", "model name in the URL (tfserving, kserve)")
    .option("--config <file>", "generic JSON API description (--protocol json; see docs/detect-protocols.md)")
    .option("--header <header>", '"Name: value" or "Name: env:VAR", repeatable (also $PROVMARK_SUSPECT_TOKEN)', collect)
    .requiredOption("--queries <n>", "query budget (training queries sent)", intArg("--queries", 1, 10_000_000))
    .addOption(
      new Option("--strategy <name>", "natural images, uniform noise, or Papernot's Jacobian augmentation")
        .choices(["natural", "noise", "jbda"])
        .default("natural"),
    )
    .addOption(
      new Option("--arch <arch>", "surrogate architecture").choices(["mlp", "mlp-small", "cnn"]).default("mlp"),
    )
    .addOption(
      new Option("--answers <kind>", "train on top-1 labels or on the API's scores")
        .choices(["labels", "probabilities"])
        .default("labels"),
    )
    .requiredOption("--out <dir>", "where to write the surrogate (LayersModel directory with extract.json)")
    .option("--dataset <spec>", "the thief's images: mnist (its test split), idx:<dir>, images:<dir>", "mnist")
    .addOption(
      new Option("--pool <which>", "mnist: the thief owns its test split, or all 10,000 digits (MNIST is public)")
        .choices(["test", "all"])
        .default("test"),
    )
    .option("--eval <spec>", "also report test accuracy on this labelled dataset")
    .option(
      "--agreement <n>",
      "held-out images also sent to measure agreement with the API (not in the budget)",
      intArg("--agreement", 0, 100_000),
      0,
    )
    .option("--epochs <n>", "training epochs (jbda: per round); default per architecture", intArg("--epochs", 1, 1000))
    .option("--seed <n>", "seed of queries, initial weights and shuffles", intArg("--seed", 0, 2 ** 31 - 1), 1)
    .option("--batch-size <n>", "queries per request", intArg("--batch-size", 1, 4096), 32)
    .option("--concurrency <n>", "requests in flight", intArg("--concurrency", 1, 1024), 4)
    .option("--rps <n>", "requests per second limit", numArg("--rps", 0.01, 100_000))
    .option("--timeout <ms>", "per-request timeout", intArg("--timeout", 100, 3_600_000), 30_000)
    .option(
      "--retries <n>",
      "retries on network errors, timeouts and 5xx (429s are waited out)",
      intArg("--retries", 0, 20),
      4,
    )
    .option("--seed-size <n>", "jbda: natural images in the seed set", intArg("--seed-size", 1, 1_000_000), 150)
    .option("--lambda <x>", "jbda: step size in [0,1] pixel units", numArg("--lambda", 1e-6, 1), 0.1)
    .option("--tau <n>", "jbda: the step's sign flips every tau rounds", intArg("--tau", 1, 1000), 3)
    .option("--force", "replace --out if it exists")
    .option("--json", "machine-readable output")
    .action(async (opts) => (await import("./commands/attack-extract.js")).attackExtract(opts, globals()));

  withModelIOFlags(
    program
      .command("serve")
      .description(
        "serve a TF.js model over TF Serving REST and KServe v2, tensors or encoded images (b64, BYTES, :classify)",
      ),
  )
    .requiredOption("--model <dir>", "LayersModel directory")
    .option("--port <port>", "TCP port (0 picks a free one)", intArg("--port", 0, 65535), 8501)
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .option("--name <name>", "model name in the URLs (default: the directory's name)")
    .option("--verbose", "one line per request on stderr")
    .option("--json", "one JSON line with the URLs once listening")
    .option("--guard <config>", "put the guard (API keys, rate limits, audit log) in front: a guard.json")
    .option("--key <file>", "with --guard: the owner's key file, for the monitor's input description and DAWN")
    .action(async (opts) => (await import("./commands/serve.js")).serve(opts, globals()));

  addGuardCommands(program, globals, intArg);

  program
    .command("lab")
    .description("attack a marked model the way a thief would and report what the watermark survives")
    .requiredOption("--model <dir>", "the marked model")
    .requiredOption("--key <file>", "the watermark key file")
    .requiredOption("--out <dir>", "where to write results.json and report.html")
    .option("--dataset <spec>", "mnist (built in), idx:<dir> or images:<dir> (a folder per class)", "mnist")
    .option(
      "--attacks <list>",
      "comma list of finetune, prune, fineprune, quantize, noise, input, distill, overwrite (default: all)",
    )
    .option("--quick", "a small grid of settings per family")
    .option(
      "--null-models <n>",
      "also train N unmarked models for the empirical null (>= 20 recommended)",
      intArg("--null-models", 0, 1000),
    )
    .option("--null-epochs <n>", "epochs per null model (default: per architecture)", intArg("--null-epochs", 1, 1000))
    .option("--alpha <p>", "false-positive level of the verdict", numArg("--alpha", 1e-300, 0.5))
    .option("--seed <n>", "seed of the attacks' randomness", intArg("--seed", 0, 2 ** 31 - 1))
    .option("--force", "replace --out if it exists")
    .option("--json", "machine-readable output")
    .action(async (opts) => (await import("./commands/lab.js")).lab(opts, globals()));

  // ---------------------------------------------------------------- detection

  withLedgerFlags(
    program
      .command("detect")
      .description(
        "query a suspect with the key's triggers among decoys: exit 0 stolen, 3 not detected, 4 inconclusive",
      )
      .requiredOption(
        "--endpoint <url|dir>",
        "suspect base URL (raw: the URL images are POSTed to; local: a model directory; url: the model.json URL)",
      )
      .addOption(
        new Option(
          "--protocol <name>",
          "how to talk to the suspect (url: fetch a web app's TF.js LayersModel and test its weights too)",
        )
          .choices(["tfserving", "kserve", "json", "raw", "local", "url"])
          .default("tfserving"),
      )
      .addOption(
        new Option(
          "--encoding <format>",
          "queries as the model's numbers (tensor), or as images: png (lossless), jpeg (lossy: matches may drop). Default tensor; raw: png",
        ).choices(["tensor", "png", "jpeg"]),
      )
      .option(
        "--max-download <bytes>",
        "--protocol url: cap on the model's files together (model.json alone: 16 MiB)",
        intArg("--max-download", 1, Number.MAX_SAFE_INTEGER),
        512 * 1024 * 1024,
      )
      .option("--model-name <name>", "model name in the URL (tfserving, kserve)")
      .option("--config <file>", "generic JSON API description (--protocol json; see docs/detect-protocols.md)")
      .option(
        "--header <header>",
        '"Name: value" or "Name: env:VAR", repeatable (also $PROVMARK_SUSPECT_TOKEN)',
        collect,
      )
      .requiredOption("--key <file>", "watermark key (passphrase from $PROVMARK_PASSPHRASE or a prompt)")
      .option("--cert <path>", "the release's certificate (file or marked model dir)")
      .option("--digest <digest>", "registered version: certificate from its manifest, on-chain record in the report")
      .option(
        "--triggers <n>",
        "triggers used by this run (random subset; default half the set, at least 20)",
        intArg("--triggers", 1, 1_000_000),
      )
      .option("--decoy-ratio <x>", "benign decoy queries per trigger", numArg("--decoy-ratio", 0, 100), 3)
      .option("--decoys <dataset>", "decoy images: a dataset spec, or none (default: mnist for 28×28×1 models)")
      .option("--concurrency <n>", "requests in flight", intArg("--concurrency", 1, 1024), 4)
      .option(
        "--batch-size <n>",
        "queries per request (default 16, where the protocol batches)",
        intArg("--batch-size", 1, 4096),
      )
      .option("--rps <n>", "requests per second limit", numArg("--rps", 0.01, 100_000))
      .option("--timeout <ms>", "per-request timeout", intArg("--timeout", 100, 3_600_000), 30_000)
      .option("--retries <n>", "retries on network errors, 408, 429 and 5xx", intArg("--retries", 0, 20), 4)
      .option("--alpha <p>", "significance level", numArg("--alpha", 1e-300, 0.5), 1e-6)
      .option(
        "--max-failures <fraction>",
        "failed trigger queries above this fraction → inconclusive",
        numArg("--max-failures", 0, 1),
        0.1,
      )
      .option("--reference <dir>", "independently trained model (empirical null), repeatable", collect)
      .option("--run <dir>", "journal directory (default: <data dir>/runs/<id>; an unfinished run resumes)")
      .option("--fresh", "discard an unfinished run's answers and start over (only in a run directory provmark made)")
      .option("--report <dir>", "where to write the evidence report (default: <data dir>/reports/<id>-<time>)")
      .option(
        "--anchor",
        "anchor the run plan on chain before the first query, then store the report in IPFS and file a claim (needs --digest)",
      )
      .option("--dawn-log <file>", "DAWN: replay the inputs the guard answered with altered labels (its watermark log)")
      .option("--client <id>", "--dawn-log: test this client's records only (default: every client, Bonferroni)"),
    { write: true },
  ).action(async (opts) => (await import("./commands/detect.js")).detectCmd(opts, globals()));

  program
    .command("dawn-log")
    .description("the guard's DAWN watermark log (answers altered on purpose)")
    .command("show")
    .description("counts of altered answers per client (decrypted with the key file; never prints the key)")
    .argument("<log>", "DAWN watermark log file")
    .requiredOption("--key <file>", "the watermark key the guard ran with (passphrase from $PROVMARK_PASSPHRASE)")
    .option("--client <id>", "this client only")
    .option("--json", "machine-readable output")
    .action(async (path: string, opts) => (await import("./commands/dawn-log.js")).dawnLogShow(path, opts, globals()));

  withLedgerFlags(
    program
      .command("evidence")
      .description("evidence reports")
      .command("verify")
      .description("re-check an evidence report without the key: proofs, body hashes, answers, p-value (exit 3 if not)")
      .argument("<report>", "report directory (or its report.json)")
      .option("--chain", "also re-read the on-chain record from the chain (--rpc, or the embedded chain)")
      .option(
        "--alpha <p>",
        "the verifier's significance level (the report's own α is not used)",
        numArg("--alpha", Number.MIN_VALUE, 0.5),
        1e-6,
      )
      .option(
        "--max-failures <x>",
        "above this fraction of failed trigger queries a run cannot support not-detected (detect's default too)",
        numArg("--max-failures", 0, 1),
        0.1,
      )
      .option("--accept-v1", "accept v1 certificates' labels (not provably fixed at release) with a warning")
      .option(
        "--deployment <file>",
        "with --chain: a deployment record you trust (registry, chain id, genesis); else --registry or your own record",
      ),
  ).action(async (path: string, opts) =>
    (await import("./commands/evidence.js")).evidenceVerify(path, opts, globals()),
  );

  return program;
}

/** The chain and IPFS flags of ledger commands. */
function withLedgerFlags(cmd: Command, { write = false } = {}): Command {
  cmd
    .option("--rpc <url>", "EVM JSON-RPC URL (default: $PROVMARK_RPC_URL, else the embedded chain)")
    .option(
      "--registry <address>",
      "ProvenanceRegistry address (default: $PROVMARK_REGISTRY or the recorded deployment)",
    )
    .option("--chain-id <id>", "refuse an endpoint that serves another chain")
    .option(
      "--owner <address>",
      write
        ? "owner of the model namespace to write in (default: the signer; a maintainer names the owner)"
        : "the model owner you expect: only its namespace counts (default: $PROVMARK_OWNER)",
    )
    .option("--ipfs-api <url>", "Kubo RPC API URL (default: $PROVMARK_IPFS_API, else embedded Helia)");
  if (write) {
    cmd
      .option("--keystore <file>", "encrypted JSON keystore of the signer (default: $PROVMARK_PRIVATE_KEY)")
      .option("--confirmations <n>", "blocks to wait for after mining", intArg("--confirmations", 1, 100), 1);
  }
  return cmd.option("--json", "machine-readable output");
}

/** `provmark guard` (run the proxy) and its `keys`, `audit verify` and `anchor` subcommands. */
function addGuardCommands(
  program: Command,
  globals: () => GlobalOptions,
  int: (name: string, min: number, max?: number) => (v: string) => number,
): void {
  const guard = withModelIOFlags(
    program
      .command("guard")
      .description("a reverse proxy in front of a model server: API keys, rate limits, audit log, monitoring hooks"),
  )
    .option("--upstream <url>", "the model server's base URL (required to run the guard)")
    .addOption(
      new Option("--protocol <protocol>", "the upstream's API")
        .choices(["tfserving", "kserve", "json", "raw"])
        .default("tfserving"),
    )
    .option("--config <file>", "guard.json (keys file, audit log, limits): see docs/guard.md")
    .option("--host <host>", "interface to listen on (not loopback: needs auth on)", "127.0.0.1")
    .option("--port <port>", "TCP port (0 picks a free one)", int("--port", 0, 65535), 8500)
    .option("--model <dir>", "the upstream's model: its input description decodes encoded images for the monitor")
    .option(
      "--key <file>",
      "or the owner's watermark key file: its input description, and DAWN's keys ($PROVMARK_PASSPHRASE)",
    )
    .option("--model-name <name>", "the model's name in the upstream's URLs (for the printed URLs)")
    .option("--verbose", "one line per request on stderr")
    .option("--json", "one JSON line once listening")
    .action(async (opts) => {
      for (const flag of ["upstream", "config"] as const) {
        if (opts[flag] === undefined) {
          throw new ProvmarkError("USAGE", `provmark guard needs --${flag}`, { subject: `--${flag}` });
        }
      }
      return (await import("./commands/guard.js")).guard(opts, globals());
    });

  const keys = guard.command("keys").description("API keys of the guard's clients (stored as SHA-256 hashes)");
  const keysFile = (cmd: Command) =>
    cmd
      .option("--keys <file>", "the keys file (created 0600 by add)")
      .option("--config <file>", "take the keys file from this guard.json")
      .option("--json", "machine-readable output");
  keysFile(
    keys
      .command("add")
      .description("create a key; it is printed once")
      .requiredOption("--name <name>", "who the key is for")
      .addOption(
        new Option("--role <role>", "what it may do").choices(["client", "auditor", "admin"]).default("client"),
      )
      .option("--rate <n/period>", 'rate limit, e.g. "20/s"')
      .option("--burst <n>", "requests allowed at once above the rate", int("--burst", 1))
      .option("--quota <n/period>", 'quota, e.g. "10000/day"'),
  ).action(async (_opts, cmd: Command) => (await import("./commands/guard-keys.js")).guardKeysAdd(withGuardFlags(cmd)));
  keysFile(keys.command("list").description("list keys (never the keys)")).action(async (_opts, cmd: Command) =>
    (await import("./commands/guard-keys.js")).guardKeysList(withGuardFlags(cmd)),
  );
  keysFile(keys.command("revoke").description("revoke a key by id").argument("<id>", "the key's id (k_…)")).action(
    async (id: string, _opts, cmd: Command) =>
      (await import("./commands/guard-keys.js")).guardKeysRevoke(id, withGuardFlags(cmd)),
  );

  withLedgerFlags(
    guard
      .command("audit")
      .description("the guard's hash-chained audit log")
      .command("verify")
      .description("check the log's hash chain and anchors; print its head")
      .argument("<log>", "the audit log (JSON lines)")
      .option("--chain", "also check every anchor on chain (and anchors the anchors file does not list)"),
  ).action(async (log: string, _opts, cmd: Command) =>
    (await import("./commands/guard-audit.js")).guardAuditVerify(log, withGuardFlags(cmd), globals()),
  );

  withLedgerFlags(
    guard
      .command("anchor")
      .description("anchor the audit log's head on chain (one transaction); recorded in <log>.anchors.json")
      .requiredOption("--log <file>", "the audit log"),
    { write: true },
  ).action(async (_opts, cmd: Command) =>
    (await import("./commands/guard-audit.js")).guardAnchor(withGuardFlags(cmd), globals()),
  );
}

/**
 * A guard subcommand's flags. The root program parses options anywhere on the line, so `guard`
 * itself takes the flags it shares with its subcommands (--config, --json) even after them: they
 * are merged back here, the subcommand's own winning.
 */
function withGuardFlags<T>(cmd: Command): T {
  const own = cmd.opts();
  const guard = cmd.parent?.name() === "guard" ? cmd.parent : cmd.parent?.parent;
  const shared = guard?.opts() ?? {};
  return {
    ...own,
    ...(own.config === undefined && shared.config !== undefined ? { config: shared.config } : {}),
    ...(own.json === undefined && shared.json !== undefined ? { json: shared.json } : {}),
  } as T;
}

/** Runs the CLI and returns the exit code (never throws). */
export async function run(argv: readonly string[]): Promise<number> {
  if (argv.length === 1 && argv[0] === "--version") {
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const program = buildProgram();
  const json = argv.includes("--json");
  const debug = argv.includes("--debug");
  try {
    await program.parseAsync(argv as string[], { from: "user" });
    // Verdict commands report their outcome through the exit code.
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed help/version or the usage message.
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.exitCode === 0) return 0;
      return 2;
    }
    return reportError(e, { json, debug });
  }
}
