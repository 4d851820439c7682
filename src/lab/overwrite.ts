import { join } from "node:path";
import { sha256 } from "@noble/hashes/sha2.js";
import type * as tfTypes from "@tensorflow/tfjs";
import type { WatermarkKey } from "../core/watermark/params.js";
import type { BackendChoice, TF } from "../model/backend.js";
import { loadLayersModel } from "../model/fs-io-handler.js";
import { embedWatermark } from "../watermark/embed.js";
import { generateKey } from "../watermark/keygen.js";
import type { OverwriteParams } from "./lab-types.js";

export interface OverwriteRequest {
  /** The stolen (marked) model's directory. */
  model: string;
  dataset: string;
  /** The owner's key: the attacker copies its public shape (classes, input, layer, bits, triggers). */
  ownerKey: WatermarkKey;
  params: OverwriteParams;
  /** Scratch directory for the attacker's model. */
  workDir: string;
  seed: number;
  backend: BackendChoice;
}

/**
 * The attacker embeds their own watermark, with their own key, into the stolen model (same layer,
 * same sizes: the strongest overwrite). Noise-family attacker keys are derived from `seed` so the
 * lab is reproducible; other families go through `generateKey` (OS randomness). Returns the
 * overwritten model; the caller disposes it.
 */
export async function overwriteAttack(tf: TF, req: OverwriteRequest): Promise<tfTypes.LayersModel> {
  const params = { ...req.ownerKey.params };
  const attackerKey: WatermarkKey =
    params.family === "noise"
      ? { seed: sha256(new TextEncoder().encode(`provmark/lab/attacker-key/${req.seed}`)), params, stampBases: [] }
      : await generateKey(params, req.dataset);
  const out = join(req.workDir, `overwrite-${req.seed}-${req.params.lambda}`);
  await embedWatermark({
    model: req.model,
    keyPath: "(attacker key)",
    key: attackerKey,
    dataset: req.dataset,
    out,
    force: true,
    backend: req.backend,
    settings: { lambda: req.params.lambda, maxEpochs: req.params.maxEpochs, seed: req.seed },
  });
  return loadLayersModel(tf, out);
}
