import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { DetectDecision } from "../../core/detect/detect-verdict.js";
import type { EvidenceReport } from "../../core/detect/evidence.js";
import type { EvidenceCheck, VerifierPolicy } from "../../core/detect/evidence-check.js";
import { combineWhiteBox } from "../../core/detect/white-box-verdict.js";
import { checkRevealV2, type RevealV2 } from "../../core/watermark/reveal-v2.js";
import { sha256Hex } from "../adapters/http-exchange.js";
import { SUSPECT_MODEL_DIR } from "../run-dir.js";
import { type WeightMarkOutcome, weightMarkTest } from "./weight-mark-test.js";

const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/**
 * `--protocol url` reports: the fetched files in the report's suspect-model/ re-hashed against their
 * records, the model digest recomputed, the weight mark re-read from those files with the secrets
 * the reveal's VRF proofs fix (v2), and the combined verdict recomputed under the verifier's α.
 */
export async function recheckDownload(
  report: EvidenceReport,
  reportDir: string,
  triggerVerdict: DetectDecision,
  policy: VerifierPolicy,
): Promise<EvidenceCheck[]> {
  const d = report.download;
  const wb = report.whiteBox;
  if (d === null || wb === null) {
    return [
      {
        name: "fetched model recorded",
        status: "fail",
        detail: "a url report must record its download and white-box test",
      },
    ];
  }
  const checks: EvidenceCheck[] = [];
  const add = (name: string, problems: string[], covered: string, status: "fail" | "warn" = "fail") =>
    checks.push({
      name,
      status: problems.length === 0 ? "pass" : status,
      detail: problems.length === 0 ? covered : `${problems.length} problem(s): ${problems.slice(0, 4).join("; ")}`,
    });
  const dir = join(reportDir, SUSPECT_MODEL_DIR);
  const fileProblems: string[] = [];
  if (d.url !== report.suspect.target)
    fileProblems.push(`the download names ${d.url}, the suspect is ${report.suspect.target}`);
  for (const f of d.files) {
    if (!SAFE_NAME.test(f.name)) {
      fileProblems.push(`${JSON.stringify(f.name)} is not a plain file name`);
      continue;
    }
    const bytes = await readFile(join(dir, f.name)).catch(() => null);
    if (bytes === null) fileProblems.push(`${f.name} is not in ${SUSPECT_MODEL_DIR}/`);
    else if (sha256Hex(bytes) !== f.sha256 || bytes.length !== f.bytes) {
      fileProblems.push(`${f.name} does not match its recorded SHA-256`);
    }
    if (f.encoding === null && (f.receivedSha256 !== f.sha256 || f.receivedBytes !== f.bytes)) {
      fileProblems.push(`${f.name}: stored and received bytes differ, yet no Content-Encoding is recorded`);
    }
    if (f.status !== 200) fileProblems.push(`${f.name} was answered with HTTP ${f.status}`);
  }
  add("fetched model files match their SHA-256", fileProblems, `${d.files.length} files re-hashed`);
  if (fileProblems.length > 0) return checks;

  const { hashModel } = await import("../../model/hash-model.js");
  const digest = await hashModel(dir).catch((e: unknown) => e as Error);
  add(
    "model digest recomputed",
    digest instanceof Error
      ? [`the files do not load as a model: ${digest.message}`]
      : digest.weightsDigest !== d.weightsDigest
        ? [`the files give weights digest ${digest.weightsDigest}, the report says ${d.weightsDigest}`]
        : [],
    `weights digest ${d.weightsDigest.slice(0, 16)}… (compare with the registry)`,
  );

  const cert = report.certificate.document;
  let weightMark: WeightMarkOutcome = wb.weightMark;
  if (cert.schema === "provmark/certificate/v2") {
    const revealed =
      report.reveal.schema === "provmark/reveal/v2" ? checkRevealV2(report.reveal as RevealV2, cert) : null;
    const secrets = revealed?.weightMark ?? null;
    if (wb.weightMark.applicable && secrets === null) {
      add("weight mark re-read from the fetched model", ["the reveal holds no valid weight-mark proofs"], "");
    } else if (secrets !== null) {
      const layer = cert.model.carrier.layer;
      weightMark = await weightMarkTest(dir, layer, cert.weightWatermark.bits, (m) =>
        m === cert.model.carrier.carrierLength ? secrets : { unavailable: `the carrier holds ${m} values` },
      );
      const same =
        weightMark.applicable === wb.weightMark.applicable &&
        (!weightMark.applicable || (wb.weightMark.applicable && weightMark.matches === wb.weightMark.matches));
      add(
        "weight mark re-read from the fetched model",
        same ? [] : [`the files give ${describe(weightMark)}, the report ${describe(wb.weightMark)}`],
        `${describe(weightMark)}, with the projection and message the reveal's VRF proofs fix`,
      );
    }
  } else {
    add(
      "weight mark re-read from the fetched model",
      ["v1 certificate: the weight mark's secrets are not revealable, so its result is the reporter's word"],
      "",
      "warn",
    );
  }
  const combined = combineWhiteBox(triggerVerdict, weightMark, { alpha: policy.alpha, complete: report.run.complete });
  add(
    "combined verdict recomputed",
    combined.verdict === wb.combined.verdict
      ? []
      : [`the tests give ${combined.verdict}, the report claims ${wb.combined.verdict}`],
    `${combined.verdict}: ${combined.tests} test(s), Bonferroni p 1e${combined.log10PValue.toFixed(1)} at the verifier's α ${policy.alpha}`,
  );
  return checks;
}

const describe = (w: WeightMarkOutcome) =>
  w.applicable ? `${w.matches}/${w.bits} bits matching` : `no weight test (${w.reason})`;
