import { join, resolve } from "node:path";
import { ExitCode } from "../../errors.js";
import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { progressBar } from "../progress.js";
import type { DetectFlags } from "./detect.js";

/**
 * `provmark detect --dawn-log <log> --key <file> [--client <id>]`: replay the logged inputs whose
 * answers the guard altered; exit 0 stolen, 3 not detected, 4 inconclusive.
 */
export async function dawnDetectCmd(flags: DetectFlags & { dawnLog: string; client?: string }, globals: GlobalOptions) {
  const { ProvmarkError } = await import("../../errors.js");
  const { settings } = await import("../../config.js");
  const { readKeyFile } = await import("../../watermark/key-file.js");
  const { getPassphrase } = await import("../../watermark/passphrase.js");
  const { readDawnLog } = await import("../../guard/dawn-log.js");
  const { loadDecoys } = await import("../../detect/decoys.js");
  const { parseHeaders } = await import("../../detect/adapters/headers.js");
  const { dawnDetect } = await import("../../detect/dawn-detect.js");
  const { createHash } = await import("node:crypto");

  for (const [flag, set] of [
    ["--cert", flags.cert],
    ["--digest", flags.digest],
    ["--triggers", flags.triggers],
    ["--reference", flags.reference?.length ? flags.reference : undefined],
    ["--anchor", flags.anchor],
  ] as const) {
    if (set !== undefined) {
      throw new ProvmarkError("USAGE", `${flag} does not apply to --dawn-log (the log names the model)`, {
        subject: flag,
      });
    }
  }
  if (flags.protocol === "url") {
    throw new ProvmarkError("USAGE", "--dawn-log queries a served model: use tfserving, kserve, json, raw or local", {
      subject: "--protocol",
    });
  }
  const protocol = flags.protocol;
  const key = await readKeyFile(flags.key, await getPassphrase());
  const log = await readDawnLog(flags.dawnLog, key.seed);
  for (const w of log.warnings) process.stderr.write(`warning: ${w}\n`);
  // An unknown --client is refused by dawnDetect, naming the clients the log has.
  if (flags.client === undefined) {
    const n = new Set(log.records.map((r) => r.client)).size;
    process.stderr.write(`no --client: testing all ${n} clients of the log, each on its own (Bonferroni ×${n})\n`);
  }
  const io = log.meta.modelIO;
  const shape = io.input.kind === "image" ? ([io.input.height, io.input.width, io.input.channels] as const) : null;
  const decoys = shape ? await loadDecoys(flags.decoys, shape, flags.decoyRatio, io) : { from: null, inputs: [] };
  const s = settings(globals.dataDir ? { dataDir: globals.dataDir } : {});
  const target = protocol === "local" ? resolve(flags.endpoint) : flags.endpoint;
  const runId = createHash("sha256")
    .update(
      `dawn\0${protocol}\0${target}\0${flags.modelName ?? ""}\0${log.sha256}\0${flags.client ?? ""}\0${flags.encoding ?? ""}`,
    )
    .digest("hex")
    .slice(0, 16);
  const runDir = flags.run ?? join(s.dataDir, "runs", `dawn-${runId}`);
  const reportDir =
    flags.report ?? join(s.dataDir, "reports", `dawn-${runId}-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  let responseConfig: unknown = null;
  if (protocol === "json" && flags.config) {
    // The report keeps the response section and batch mode, so the verifier re-reads answers as sent.
    const { loadJsonApiConfig } = await import("../../detect/adapters/json-config.js");
    const cfg = await loadJsonApiConfig(flags.config);
    responseConfig = { ...cfg.response, batch: cfg.batch };
  }
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once("SIGINT", onSignal);
  let bar: ReturnType<typeof progressBar> | undefined;
  try {
    const out = await dawnDetect({
      seed: key.seed,
      log,
      client: flags.client,
      suspect: {
        protocol,
        endpoint: target,
        modelName: flags.modelName,
        configPath: flags.config,
        encoding: flags.encoding,
        headers: parseHeaders(flags.header ?? [], process.env),
        responseConfig,
      },
      runDir,
      keepRunDir: flags.run !== undefined,
      fresh: !!flags.fresh,
      decoyRatio: decoys.inputs.length ? flags.decoyRatio : 0,
      decoys,
      concurrency: flags.concurrency,
      ...(flags.batchSize ? { batchSize: flags.batchSize } : {}),
      rps: flags.rps ?? null,
      timeoutMs: flags.timeout,
      retries: flags.retries,
      alpha: flags.alpha,
      maxFailureFraction: flags.maxFailures,
      reportDir,
      signal: abort.signal,
      onProgress: (p) => {
        bar ??= progressBar(p.total, { ...flags, format: "querying {bar} {value}/{total} answered | {failed} failed" });
        bar.update(p.answered, { failed: p.failed });
      },
    });
    bar?.stop();
    const r = out.result;
    emit(
      {
        kind: "dawn",
        verdict: r.verdict,
        client: r.client,
        clients: out.clients.map((c) => ({
          client: c.client,
          verdict: c.decision.verdict,
          matches: c.decision.matches,
          planned: c.decision.planned,
          failures: c.decision.failures,
          pValue: c.decision.pValue,
          log10PValue: c.decision.log10PValue,
        })),
        matches: r.matches,
        n: r.n,
        planned: r.planned,
        failures: r.failures,
        pValue: r.pValue,
        log10PValue: r.log10PValue,
        alpha: r.alpha,
        multiplicity: r.multiplicity,
        reason: r.reason,
        complete: out.complete,
        logSha256: out.report.log.sha256,
        duplicates: out.report.log.duplicates,
        suspect: out.report.suspect.target,
        reportPath: join(out.reportDir, "report.json"),
        htmlPath: join(out.reportDir, "report.html"),
        runDir: out.runDir,
      },
      flags,
      (o) =>
        [
          `${o.verdict.toUpperCase()}: client ${o.client} — ${o.matches} of ${o.planned} altered labels reproduced (p = ${o.pValue === 0 ? `1e${o.log10PValue.toFixed(1)}` : o.pValue.toExponential(2)}, Bonferroni ×${o.multiplicity}, α = ${o.alpha})`,
          ...(o.clients.length > 1
            ? o.clients.map(
                (c) => `  ${c.client}: ${c.matches}/${c.planned}, log10 p = ${c.log10PValue.toFixed(2)} → ${c.verdict}`,
              )
            : []),
          `  suspect:  ${o.suspect}`,
          `  failures: ${o.failures} of ${o.planned}${o.reason ? ` — ${o.reason}` : ""}`,
          ...(o.complete ? [] : [`  interrupted: rerun the same command to resume (${o.runDir})`]),
          `  evidence: ${o.reportPath}`,
          `            ${o.htmlPath}`,
        ].join("\n"),
    );
    process.exitCode = {
      stolen: ExitCode.ok,
      "not-detected": ExitCode.notDetected,
      inconclusive: ExitCode.inconclusive,
    }[r.verdict];
  } finally {
    bar?.stop();
    process.off("SIGINT", onSignal);
  }
}
