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
import { type ModelIOFlags, modelIOOverrides } from "./model-io-flags.js";

export interface KeygenFlags extends ModelIOFlags {
  out: string;
  model?: string;
  classes?: number;
  inputShape?: [number, number, number];
  layer?: string;
  bits: number;
  triggers?: number;
  family: TriggerFamily;
  stampStrength: number;
  dataset?: string;
  labelColumn?: string;
  force?: boolean;
  json?: boolean;
}

/** The input model from --input-shape, --classes and --preprocess (no --model: the MNIST defaults). */
export function ioFromFlags(opts: Pick<KeygenFlags, "inputShape" | "classes" | "preprocess">): ModelIO {
  const preprocess = opts.preprocess ?? "pixel/255";
  if (!isPreprocessPreset(preprocess)) {
    throw new ProvmarkError("USAGE", `unknown --preprocess ${JSON.stringify(preprocess)}`, {
      subject: "--preprocess",
      hints: [`One of: ${Object.keys(PREPROCESS_PRESETS).join(", ")}.`],
    });
  }
  const shape = opts.inputShape ?? [28, 28, 1];
  const [h, w, c] = shape;
  if (c !== 1 && c !== 3) {
    throw new ProvmarkError("USAGE", `--input-shape ${h},${w},${c}: images have 1 (gray) or 3 (RGB) channels`, {
      subject: "--input-shape",
    });
  }
  const io = legacyModelIO(shape, opts.classes ?? 10);
  const preset = PREPROCESS_PRESETS[preprocess];
  if (io.input.kind === "image") {
    io.input.preprocess = preset.preprocess;
    if ("channelOrder" in preset && c === 3) io.input.channelOrder = preset.channelOrder;
  }
  return io;
}

export async function keygen(opts: KeygenFlags): Promise<void> {
  let io: ModelIO;
  let layer = opts.layer ?? "dense1";
  let reasons: { io: string[]; carrier: string[] } = { io: [], carrier: [] };
  if (opts.model !== undefined) {
    for (const [flag, v] of [
      ["--classes", opts.classes],
      ["--input-shape", opts.inputShape],
    ] as const) {
      if (v !== undefined) {
        throw new ProvmarkError("USAGE", `${flag} is read from --model; do not give both`, {
          subject: flag,
          hints: ["Drop the flag (keygen prints what it inferred), or --class-names/--preprocess to override."],
        });
      }
    }
    const { planKeyForModel } = await import("../../watermark/keygen-model.js");
    const plan = await planKeyForModel(opts.model, {
      overrides: modelIOOverrides(opts),
      bits: opts.bits,
      ...(opts.layer ? { layer: opts.layer } : {}),
      ...(opts.dataset ? { dataset: opts.dataset } : {}),
      ...(opts.labelColumn ? { labelColumn: opts.labelColumn } : {}),
    });
    io = plan.io;
    layer = plan.layer;
    reasons = plan.reasons;
  } else {
    io = ioFromFlags(opts);
  }
  const sized = triggerCountFor(io.classes.count, opts.triggers ?? 100);
  const params: WatermarkParams = {
    derivation: "vrf/v2",
    io,
    runSize: sized.runSize,
    layer,
    bits: opts.bits,
    triggers: sized.triggers,
    family: opts.family,
    stampStrength: opts.stampStrength,
  };
  const passphrase = await getPassphrase({ confirm: true });
  const key = await generateKey(params, opts.dataset ?? (io.input.kind === "image" ? "mnist" : undefined));
  await writeKeyFile(opts.out, key, passphrase, opts.force ?? false);
  emit(
    {
      out: opts.out,
      keyId: keyId(key),
      keyCommitment: toHex(keyCommitment(key.seed)),
      params,
      stampBases: key.stampBases.length,
      reasons,
    },
    opts,
    (r) =>
      [
        `wrote ${r.out} (mode 0600, encrypted with your passphrase): key ${r.keyId}`,
        `  ${r.params.triggers} ${r.params.family} triggers (${r.params.runSize} per detection run), ${r.params.bits}-bit weight mark in layer ${r.params.layer}, ` +
          `input [${modelInputShape(r.params)}], ${r.params.io.classes.count} classes${r.params.io.classes.names ? ` (${r.params.io.classes.names.join(", ")})` : ""}`,
        ...r.reasons.io.map((x) => `  input: ${x}`),
        ...r.reasons.carrier.map((x) => `  carrier: ${x}`),
        "Back this file up: without it (and its passphrase) the watermark cannot be proven.",
      ].join("\n"),
  );
}
