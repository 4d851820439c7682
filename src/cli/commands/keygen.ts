import { toHex } from "../../core/digest/bytes.js";
import { keyCommitment } from "../../core/keys/derive.js";
import type { TriggerFamily, WatermarkParams } from "../../core/watermark/params.js";
import { keyId, writeKeyFile } from "../../watermark/key-file.js";
import { generateKey } from "../../watermark/keygen.js";
import { getPassphrase } from "../../watermark/passphrase.js";
import { emit } from "../output.js";

export interface KeygenFlags {
  out: string;
  classes: number;
  inputShape: [number, number, number];
  layer: string;
  bits: number;
  triggers: number;
  family: TriggerFamily;
  stampStrength: number;
  dataset: string;
  force?: boolean;
  json?: boolean;
}

export async function keygen(opts: KeygenFlags): Promise<void> {
  const params: WatermarkParams = {
    classes: opts.classes,
    inputShape: opts.inputShape,
    layer: opts.layer,
    bits: opts.bits,
    triggers: opts.triggers,
    family: opts.family,
    stampStrength: opts.stampStrength,
  };
  const passphrase = await getPassphrase({ confirm: true });
  const key = await generateKey(params, opts.dataset);
  await writeKeyFile(opts.out, key, passphrase, opts.force ?? false);
  emit(
    {
      out: opts.out,
      keyId: keyId(key),
      keyCommitment: toHex(keyCommitment(key.seed)),
      params,
      stampBases: key.stampBases.length,
    },
    opts,
    (r) =>
      [
        `wrote ${r.out} (mode 0600, encrypted with your passphrase): key ${r.keyId}`,
        `  ${r.params.triggers} ${r.params.family} triggers, ${r.params.bits}-bit weight mark in layer ${r.params.layer}, ` +
          `input [${r.params.inputShape}], ${r.params.classes} classes`,
        "Back this file up: without it (and its passphrase) the watermark cannot be proven.",
      ].join("\n"),
  );
}
