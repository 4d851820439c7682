import { ProvmarkError } from "../errors.js";
import type { WeightSpec } from "./manifest-schema.js";

/** The error for a weight holding NaN or infinity; `model` names the model as the user gave it. */
export function nonFiniteError(weight: string, model: string, element: number): ProvmarkError {
  return new ProvmarkError(
    "MODEL_WEIGHTS_NONFINITE",
    `weight ${weight} of ${model} holds NaN or infinity (element ${element})`,
    {
      subject: model,
      hints: [
        "The model is corrupt or its training diverged; a digest of non-finite weights would be ambiguous.",
        "`provmark hash --files-only` hashes the bytes anyway.",
      ],
    },
  );
}

/** Which stored encodings can hold NaN or infinity (integer and uint8/uint16-quantized ones cannot). */
export function floatKind(spec: WeightSpec): "f32" | "f16" | undefined {
  const stored = spec.quantization?.dtype ?? spec.dtype;
  if (stored === "float32" || stored === "complex64") return "f32";
  if (stored === "float16") return "f16";
  return undefined;
}

/**
 * Finds the first non-finite value in a stream of little-endian float bytes that may be split at
 * any byte. Works on the bit pattern (exponent all ones), which is exact and fast.
 */
export class NonFiniteScanner {
  private readonly width: number;
  private readonly carry = new Uint8Array(4);
  private carried = 0;
  private index = 0;
  /** Element index of the first NaN/infinity seen, if any. */
  firstBad: number | undefined;

  constructor(private readonly kind: "f32" | "f16") {
    this.width = kind === "f32" ? 4 : 2;
  }

  push(bytes: Uint8Array): void {
    if (this.firstBad !== undefined) return;
    let pos = 0;
    if (this.carried > 0) {
      while (this.carried < this.width && pos < bytes.length) this.carry[this.carried++] = bytes[pos++] as number;
      if (this.carried < this.width) return;
      this.check(this.carry, 0, 1);
      this.carried = 0;
    }
    const whole = Math.floor((bytes.length - pos) / this.width);
    this.check(bytes, pos, whole);
    pos += whole * this.width;
    while (pos < bytes.length) this.carry[this.carried++] = bytes[pos++] as number;
  }

  private check(bytes: Uint8Array, start: number, count: number): void {
    const dv = new DataView(bytes.buffer, bytes.byteOffset + start, count * this.width);
    if (this.kind === "f32") {
      for (let i = 0; i < count; i++) {
        if ((dv.getUint32(i * 4, true) & 0x7f800000) === 0x7f800000) {
          this.firstBad = this.index + i;
          return;
        }
      }
    } else {
      for (let i = 0; i < count; i++) {
        if ((dv.getUint16(i * 2, true) & 0x7c00) === 0x7c00) {
          this.firstBad = this.index + i;
          return;
        }
      }
    }
    this.index += count;
  }
}
