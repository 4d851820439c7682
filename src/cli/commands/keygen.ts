import { toHex } from "../../core/digest/bytes.js";
import { isPreprocessPreset, legacyModelIO, type ModelIO, PREPROCESS_PRESETS } from "../../core/input/model-io.js";
import { keyCommitment } from "../../core/keys/derive.js";
import { modelInputShape, type TriggerFamily, type WatermarkParams } from "../../core/watermark/params.js";
import { triggerCountFor } from "../../core/watermark/trigger-count.js";
import { ProvmarkError } from "../../errors.js";
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
  triggers?: number;
  preprocess: string;
  family: TriggerFamily;
  stampStrength: number;
  dataset: string;
  force?: boolean;
  json?: boolean;
}

/** The input model from --input-shape, --classes and --preprocess. */
export function ioFromFlags(opts: Pick<KeygenFlags, "inputShape" | "classes" | "preprocess">): ModelIO {
  if (!isPreprocessPreset(opts.preprocess)) {
    throw new ProvmarkError("USAGE", `unknown --preprocess ${JSON.stringify(opts.preprocess)}`, {
      subject: "--preprocess",
      hints: [`One of: ${Object.keys(PREPROCESS_PRESETS).join(", ")}.`],
    });
  }
  const [h, w, c] = opts.inputShape;
  if (c !== 1 && c !== 3) {
    throw new ProvmarkError("USAGE", `--input-shape ${h},${w},${c}: images have 1 (gray) or 3 (RGB) channels`, {
      subject: "--input-shape",
    });
  }
  const io = legacyModelIO(opts.inputShape, opts.classes);
  const preset = PREPROCESS_PRESETS[opts.preprocess];
  if (io.input.kind === "image") {
    io.input.preprocess = preset.preprocess;
    if ("channelOrder" in preset && c === 3) io.input.channelOrder = preset.channelOrder;
  }
  return io;
}

export async function keygen(opts: KeygenFlags): Promise<void> {
  const io = ioFromFlags(opts);
  const sized = triggerCountFor(io.classes.count, opts.triggers ?? 100);
  const params: WatermarkParams = {
    derivation: "vrf/v2",
    io,
    runSize: sized.runSize,
    layer: opts.layer,
    bits: opts.bits,
    triggers: sized.triggers,
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
        `  ${r.params.triggers} ${r.params.family} triggers (${r.params.runSize} per detection run), ${r.params.bits}-bit weight mark in layer ${r.params.layer}, ` +
          `input [${modelInputShape(r.params)}], ${r.params.io.classes.count} classes`,
        "Back this file up: without it (and its passphrase) the watermark cannot be proven.",
      ].join("\n"),
  );
}
