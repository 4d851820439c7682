import type * as tfTypes from "@tensorflow/tfjs";
import type { WhiteBoxResult } from "../../core/detect/evidence.js";
import { logBinomialTail, pValueFromLog } from "../../core/stats/binomial.js";
import { carrierOf, countBitErrors, extractBits } from "../../core/watermark/weight-mark.js";
import { isProvmarkError } from "../../errors.js";
import { loadTf } from "../../model/backend.js";
import { disposeModel } from "../../model/dispose-model.js";
import { loadLayersModel } from "../../model/fs-io-handler.js";
import { findCarrier } from "../../watermark/compat.js";

export type WeightMarkOutcome = WhiteBoxResult["weightMark"];

/** The weight mark's secrets for a carrier of `length` values, or why they cannot be had. */
export type SecretsFor = (
  length: number,
) => { projection: Float32Array; message: Uint8Array } | { unavailable: string };

/**
 * The white-box Uchida test on a model directory: bits read from the carrier layer's kernel (after
 * any dequantization the loader does) by the projection, compared with the message. A model without
 * the layer, or with a carrier of another length, gets a reasoned "not applicable", not an error:
 * a re-architected copy can still be caught by its triggers.
 */
export async function weightMarkTest(
  modelDir: string,
  layer: string,
  bits: number,
  secretsFor: SecretsFor,
): Promise<WeightMarkOutcome> {
  const { tf } = await loadTf();
  const model = await loadLayersModel(tf, modelDir);
  try {
    let carrier: ReturnType<typeof findCarrier>;
    try {
      carrier = findCarrier(model, layer, bits, modelDir);
    } catch (e) {
      if (
        isProvmarkError(e, "LAYER_NOT_FOUND") ||
        isProvmarkError(e, "LAYER_AMBIGUOUS") ||
        isProvmarkError(e, "LAYER_TOO_SMALL")
      ) {
        return { applicable: false, layer, reason: e.message };
      }
      throw e;
    }
    const secrets = secretsFor(carrier.length);
    if ("unavailable" in secrets) return { applicable: false, layer: carrier.layer, reason: secrets.unavailable };
    const kernel = (carrier.kernel.read() as tfTypes.Tensor).dataSync() as Float32Array;
    const bitErrors = countBitErrors(
      extractBits(secrets.projection, carrierOf(kernel, carrier.shape), secrets.message.length),
      secrets.message,
    );
    const matches = secrets.message.length - bitErrors;
    const p = pValueFromLog(logBinomialTail(secrets.message.length, matches, 0.5));
    return { applicable: true, layer: carrier.layer, bits: secrets.message.length, matches, bitErrors, ...p };
  } finally {
    disposeModel(model);
  }
}
