import { describe, expect, it } from "vitest";
import { maxSteps, stepsPerEpoch } from "../../src/watermark/fine-tune.js";

describe("embedding's step budget", () => {
  it("an epoch is a pass over the clean data or over the triggers, whichever takes more steps", () => {
    // Teachable Machine: 18 training images, 356 triggers, 45 triggers per step.
    expect(stepsPerEpoch(18, 128, 356, 45)).toBe(8);
    // MNIST: 8,000 training digits, 100 triggers.
    expect(stepsPerEpoch(8000, 128, 100, 45)).toBe(63);
  });

  it('"auto" is 4 epochs on a large dataset, at least 2,400 steps (whole epochs) on a small one', () => {
    expect(maxSteps("auto", 63, 8000)).toBe(252);
    expect(maxSteps("auto", 8, 18)).toBe(2400);
    expect(maxSteps("auto", 7, 18)).toBe(2401);
    // A small dataset whose 4 epochs already exceed the floor keeps them.
    expect(maxSteps("auto", 900, 999)).toBe(3600);
  });

  it("a number of epochs is taken as given", () => {
    expect(maxSteps(100, 8, 18)).toBe(800);
    expect(maxSteps(1, 63, 8000)).toBe(63);
  });
});
