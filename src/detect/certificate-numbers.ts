import type { Certificate } from "../core/watermark/certificate.js";

/**
 * What is numerically impossible in a certificate that the schema lets through: null match
 * probabilities outside [0, 1] (the exact test would throw on them), fewer than two classes, an
 * empty input. A certificate comes from a file, a manifest or an evidence report: third-party input.
 * `at` prefixes each field path (e.g. "certificate.document.").
 */
export function certificateNumberProblems(c: Certificate, at = ""): string[] {
  // v2 has no probability field (verifiers derive 1/C) and its schema bounds every count.
  if (c.schema === "provmark/certificate/v2") return [];
  const problems: string[] = [];
  for (const [family, p] of Object.entries(c.triggerSet.nullMatchProbability)) {
    if (!(Number.isFinite(p) && p >= 0 && p <= 1)) {
      problems.push(`${at}triggerSet.nullMatchProbability.${family} is ${p}, not a probability in [0, 1]`);
    }
  }
  if (c.input.classes < 2) problems.push(`${at}input.classes is ${c.input.classes}, at least 2 are needed`);
  if (!c.input.shape.every((d) => d >= 1)) problems.push(`${at}input.shape [${c.input.shape}] has an empty axis`);
  if (c.triggerSet.count < 1) problems.push(`${at}triggerSet.count is ${c.triggerSet.count}`);
  return problems;
}
