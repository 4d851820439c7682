import { randomInt } from "node:crypto";
import { buildReveal } from "../../core/watermark/reveal.js";
import { anyRevealSchema, checkAnyReveal } from "../../core/watermark/reveal-any.js";
import { buildRevealV2 } from "../../core/watermark/reveal-v2.js";
import { deriveTriggers } from "../../core/watermark/triggers.js";
import { weightSecrets } from "../../core/watermark/weight-mark.js";
import { ExitCode, ProvmarkError } from "../../errors.js";
import { writeFileAtomic } from "../../model/atomic-write.js";
import { readKeyFile } from "../../watermark/key-file.js";
import { getPassphrase } from "../../watermark/passphrase.js";
import { readCertificate, readJsonFile } from "../../watermark/read-json.js";
import { emit } from "../output.js";

export async function reveal(opts: {
  key: string;
  certificate: string;
  count: number;
  out: string;
  weightMark?: boolean;
  json?: boolean;
}) {
  const key = await readKeyFile(opts.key, await getPassphrase());
  const cert = await readCertificate(opts.certificate);
  const triggers = deriveTriggers(key);
  if (opts.count > triggers.length) {
    throw new ProvmarkError("USAGE", `--count ${opts.count} exceeds the ${triggers.length} triggers of the key`, {
      subject: "--count",
    });
  }
  // A uniformly random subset (OS randomness) keeps the unrevealed triggers usable for later checks.
  const pool = triggers.map((t) => t.index);
  for (let i = 0; i < opts.count; i++) {
    const j = i + randomInt(pool.length - i);
    [pool[i], pool[j]] = [pool[j] as number, pool[i] as number];
  }
  const indices = pool.slice(0, opts.count).sort((a, b) => a - b);
  if (opts.weightMark && cert.schema !== "provmark/certificate/v2") {
    throw new ProvmarkError("USAGE", "--weight-mark needs a v2 certificate (v1 secrets are not verifiable)", {
      subject: "--weight-mark",
    });
  }
  const r =
    cert.schema === "provmark/certificate/v2"
      ? buildRevealV2(
          key,
          cert,
          triggers,
          indices,
          [],
          opts.weightMark ? weightSecrets(key, cert.model.carrier.carrierLength).proofs : null,
        )
      : buildReveal(cert, triggers, indices);
  const check = checkAnyReveal(r, cert);
  if (!check.ok) {
    throw new ProvmarkError("KEY_MODEL_MISMATCH", `this key does not match ${opts.certificate}: ${check.failures[0]}`, {
      subject: opts.certificate,
      hints: ["Reveal with the key the certificate was made from."],
    });
  }
  await writeFileAtomic(opts.out, `${JSON.stringify(r, null, 1)}\n`);
  const how = r.schema === "provmark/reveal/v2" ? "VRF proofs" : "Merkle proofs";
  emit(
    { out: opts.out, revealed: indices, of: triggers.length, proofs: how, weightMark: !!opts.weightMark },
    opts,
    (x) =>
      `wrote ${x.out}: ${x.revealed.length} of ${x.of} triggers with ${x.proofs}${x.weightMark ? ", and the weight mark's projection and message" : ""}`,
  );
}

export async function checkRevealCmd(opts: { reveal: string; certificate: string; json?: boolean }) {
  const cert = await readCertificate(opts.certificate);
  const r = await readJsonFile(opts.reveal, anyRevealSchema, "provmark reveal file");
  const check = checkAnyReveal(r, cert);
  emit(check, opts, (c) =>
    c.ok
      ? `ok: all ${c.checked} revealed triggers belong to the certificate's trigger set`
      : `FAILED: ${c.failures.length} of ${c.checked} triggers do not match\n${c.failures.map((f) => `  ${f}`).join("\n")}`,
  );
  if (!check.ok) process.exitCode = ExitCode.notDetected;
}
