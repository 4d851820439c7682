import { join, resolve } from "node:path";
import { ExitCode } from "../../errors.js";
import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { progressBar } from "../progress.js";
import { type LedgerFlags, ledgerOptions, storeSettings } from "./ledger-flags.js";

export interface DetectFlags extends LedgerFlags {
  endpoint: string;
  protocol: "tfserving" | "kserve" | "json" | "raw" | "local" | "url";
  encoding?: "tensor" | "png" | "jpeg";
  maxDownload?: number;
  modelName?: string;
  config?: string;
  header?: string[];
  key: string;
  cert?: string;
  digest?: string;
  triggers?: number;
  decoyRatio: number;
  decoys?: string;
  concurrency: number;
  batchSize?: number;
  rps?: number;
  timeout: number;
  retries: number;
  alpha: number;
  maxFailures: number;
  reference?: string[];
  run?: string;
  fresh?: boolean;
  report?: string;
  anchor?: boolean;
  /** DAWN detection: the guard's watermark log (src/cli/commands/detect-dawn.ts). */
  dawnLog?: string;
  client?: string;
}

/** `provmark detect`: query a suspect with the key's triggers; exit 0 stolen, 3 not detected, 4 inconclusive. */
export async function detectCmd(flags: DetectFlags, globals: GlobalOptions): Promise<void> {
  if (flags.dawnLog !== undefined) {
    const { dawnDetectCmd } = await import("./detect-dawn.js");
    return dawnDetectCmd({ ...flags, dawnLog: flags.dawnLog }, globals);
  }
  if (flags.client !== undefined) {
    const { ProvmarkError } = await import("../../errors.js");
    throw new ProvmarkError("USAGE", "--client applies to --dawn-log only", { subject: "--client" });
  }
  const { ProvmarkError } = await import("../../errors.js");
  const { settings } = await import("../../config.js");
  const { readKeyFile } = await import("../../watermark/key-file.js");
  const { getPassphrase } = await import("../../watermark/passphrase.js");
  const { createHash } = await import("node:crypto");
  const { resolveCertificate } = await import("./detect-certificate.js");
  const { loadDecoys } = await import("../../detect/decoys.js");
  const { parseHeaders } = await import("../../detect/adapters/headers.js");
  const { detect } = await import("../../detect/detect.js");
  const { toHex } = await import("../../core/digest/bytes.js");
  const { keyCommitment } = await import("../../core/keys/derive.js");

  if (flags.anchor && !flags.digest) {
    throw new ProvmarkError("USAGE", "--anchor needs --digest <registered version> (the claim names it)", {
      subject: "--anchor",
    });
  }
  const s = settings(globals.dataDir ? { dataDir: globals.dataDir } : {});
  const key = await readKeyFile(flags.key, await getPassphrase());
  const { certificate, onChain, devChain, responseConfig, request } = await resolveCertificate(flags, globals, key);
  const { certificateIO } = await import("../../core/watermark/certificate.js");
  const { imageShape } = await import("../../core/watermark/params.js");
  const decoys = await loadDecoys(
    flags.decoys,
    imageShape(certificateIO(certificate)),
    flags.decoyRatio,
    certificate.schema === "provmark/certificate/v2" ? certificate.io : undefined,
  );
  const target = flags.protocol === "local" ? resolve(flags.endpoint) : flags.endpoint;
  const runId = createHash("sha256")
    .update(
      `${flags.protocol}\0${target}\0${flags.modelName ?? ""}\0${toHex(keyCommitment(key.seed))}${encodingTag(flags)}`,
    )
    .digest("hex")
    .slice(0, 16);
  const runDir = flags.run ?? join(s.dataDir, "runs", runId);
  const reportDir =
    flags.report ?? join(s.dataDir, "reports", `${runId}-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  if (flags.triggers !== undefined && certificate.schema === "provmark/certificate/v2") {
    throw new ProvmarkError("USAGE", "--triggers applies to v1 certificates only", {
      subject: "--triggers",
      hints: [
        `A v2 certificate fixes ${certificate.triggerSet.runSize} triggers per run (the next block of its committed run order), so no choice of subset can favour the owner.`,
      ],
    });
  }
  const subset =
    flags.triggers ?? Math.min(certificate.triggerSet.count, Math.max(20, Math.ceil(certificate.triggerSet.count / 2)));

  const { JPEG_WARNING } = await import("../../detect/detect.js");
  // Said before the first query, so an operator can stop a lossy run it did not mean.
  if (flags.encoding === "jpeg") process.stderr.write(`warning: ${JPEG_WARNING}\n`);
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once("SIGINT", onSignal);
  let bar: ReturnType<typeof progressBar> | undefined;
  try {
    const result = await detect({
      key,
      certificate,
      suspect: {
        protocol: flags.protocol,
        endpoint: target,
        modelName: flags.modelName,
        configPath: flags.config,
        encoding: flags.encoding,
        headers: parseHeaders(flags.header ?? [], process.env),
        responseConfig,
        request,
      },
      ...(flags.maxDownload === undefined ? {} : { maxDownloadBytes: flags.maxDownload }),
      runDir,
      keepRunDir: flags.run !== undefined,
      fresh: !!flags.fresh,
      subset,
      decoyRatio: decoys.inputs.length ? flags.decoyRatio : 0,
      decoys,
      concurrency: flags.concurrency,
      ...(flags.batchSize ? { batchSize: flags.batchSize } : {}),
      rps: flags.rps ?? null,
      timeoutMs: flags.timeout,
      retries: flags.retries,
      alpha: flags.alpha,
      maxFailureFraction: flags.maxFailures,
      references: flags.reference ?? [],
      onChain,
      ...(flags.anchor
        ? {
            anchorPlan: async ({ root, label }: { root: string; label: string }) => {
              const { openLedger } = await import("../../ledger/open-ledger.js");
              const { requireRegistry } = await import("../../release/register-release.js");
              const ledger = await openLedger({ ...ledgerOptions(flags, globals), access: "write" });
              try {
                const registry = requireRegistry(ledger);
                const tx = await registry.anchorBatch(root, 1, label);
                return { chainId: ledger.chainId.toString(), registry: registry.address, txHash: tx.txHash };
              } finally {
                await ledger.close();
              }
            },
          }
        : {}),
      devChain,
      reportDir,
      signal: abort.signal,
      onProgress: (p) => {
        bar ??= progressBar(p.total, {
          ...flags,
          format: "querying {bar} {value}/{total} answered | {failed} failed | ETA {eta_formatted}",
        });
        bar.update(p.answered, { failed: p.failed });
      },
      onStage: (m) => {
        if (!flags.json && process.stderr.isTTY) process.stderr.write(`${m}…\n`);
      },
    });
    bar?.stop();
    let claim: { evidenceCid: string; txHash: string; claimId: string } | null = null;
    if (flags.anchor && flags.digest) {
      const { anchorClaim } = await import("../../detect/anchor-claim.js");
      claim = await anchorClaim({
        reportDir: result.reportDir,
        digest: flags.digest,
        suspectRef: `${flags.protocol}:${result.report.suspect.target}`,
        certificateHash: result.report.certificate.hash,
        ledger: ledgerOptions(flags, globals),
        store: storeSettings(flags, globals),
      });
    }
    const d = result.decision;
    const wb = result.whiteBox;
    const verdict = wb?.combined.verdict ?? d.verdict;
    emit(
      {
        verdict,
        triggerVerdict: d.verdict,
        weightMark: wb?.weightMark ?? null,
        modelDigest: result.report.download?.weightsDigest ?? null,
        matches: d.matches,
        n: d.n,
        pValue: d.pValue,
        log10PValue: d.log10PValue,
        alpha: d.alpha,
        failures: d.failures,
        planned: d.planned,
        empiricalPValue: d.empirical?.pValue ?? null,
        reason: d.reason,
        complete: result.complete,
        resumed: result.resumed,
        suspect: result.report.suspect.target,
        encoding: result.report.suspect.encoding,
        warnings: result.report.warnings,
        reportPath: join(result.reportDir, "report.json"),
        htmlPath: join(result.reportDir, "report.html"),
        runDir: result.runDir,
        claim,
      },
      flags,
      (o) =>
        [
          `${o.verdict.toUpperCase()}: ${o.matches} of ${o.n} answered triggers match (p = ${o.pValue === 0 ? `1e${o.log10PValue.toFixed(1)}` : o.pValue.toExponential(2)}, α = ${o.alpha})`,
          ...(o.weightMark === null
            ? []
            : [
                o.weightMark.applicable
                  ? `  weight mark: ${o.weightMark.matches} of ${o.weightMark.bits} bits match in ${o.weightMark.layer} (p = 1e${o.weightMark.log10PValue.toFixed(1)}); triggers alone: ${o.triggerVerdict}`
                  : `  weight mark: not tested (${o.weightMark.reason})`,
                `  model digest: ${o.modelDigest} (compare with the registry: provmark check)`,
              ]),
          `  suspect:  ${o.suspect}${o.encoding === "tensor" ? "" : ` (${o.encoding} images)`}`,
          `  failures: ${o.failures} of ${o.planned} trigger queries${o.reason ? ` — ${o.reason}` : ""}`,
          ...(o.empiricalPValue === null ? [] : [`  empirical p (reference models): ${o.empiricalPValue.toFixed(4)}`]),
          ...(o.complete ? [] : [`  interrupted: rerun the same command to resume (${o.runDir})`]),
          `  evidence: ${o.reportPath}`,
          `            ${o.htmlPath}`,
          ...(o.claim
            ? [`  claim #${o.claim.claimId} on chain (tx ${o.claim.txHash}), evidence CID ${o.claim.evidenceCid}`]
            : []),
        ].join("\n"),
    );
    process.exitCode = {
      stolen: ExitCode.ok,
      "not-detected": ExitCode.notDetected,
      inconclusive: ExitCode.inconclusive,
    }[verdict];
  } finally {
    bar?.stop();
    process.off("SIGINT", onSignal);
  }
}

/** Runs with encoded images journal apart from tensor runs (their default run directories differ). */
function encodingTag(flags: DetectFlags): string {
  const e = flags.encoding ?? (flags.protocol === "raw" ? "png" : "tensor");
  return e === "tensor" ? "" : `\0${e}`;
}
