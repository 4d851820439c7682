import { describe, expect, it } from "vitest";
import { shiftImage } from "../../src/model/train-loop.js";

describe("shiftImage", () => {
  const src = Float32Array.from({ length: 12 }, (_, i) => i + 1); // 3x4x1
  const shape = [3, 4, 1] as const;
  const shifted = (dx: number, dy: number) => {
    const dst = new Float32Array(12).fill(-1);
    shiftImage(src, dst, shape, dx, dy);
    return Array.from(dst);
  };

  it("is the identity at (0, 0)", () => {
    expect(shifted(0, 0)).toEqual(Array.from(src));
  });

  it("moves pixels right and down, filling with zeros", () => {
    expect(shifted(1, 0)).toEqual([0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11]);
    expect(shifted(0, 1)).toEqual([0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("moves pixels left and up", () => {
    expect(shifted(-2, -1)).toEqual([7, 8, 0, 0, 11, 12, 0, 0, 0, 0, 0, 0]);
  });

  it("keeps channels together", () => {
    const rgb = Float32Array.from({ length: 2 * 2 * 3 }, (_, i) => i + 1);
    const dst = new Float32Array(12);
    shiftImage(rgb, dst, [2, 2, 3], 1, 0);
    expect(Array.from(dst)).toEqual([0, 0, 0, 1, 2, 3, 0, 0, 0, 7, 8, 9]);
  });
});
