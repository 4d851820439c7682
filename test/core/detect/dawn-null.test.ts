import { describe, expect, it } from "vitest";
import { type DawnEvidenceQuery, dawnOutcomes, decideDawn } from "../../../src/core/detect/dawn-evidence.js";
import { createRng } from "../../../src/core/rng.js";

type Q = Pick<DawnEvidenceQuery, "kind" | "client" | "expected" | "got">;

/** One DAWN log of `clients` × `n` distinct inputs, answered by a model that never saw the altered labels. */
function innocentRun(
  rng: ReturnType<typeof createRng>,
  o: { clients: number; n: number; classes: number; agree: number },
) {
  const qs: Q[] = [];
  for (let c = 0; c < o.clients; c++) {
    for (let i = 0; i < o.n; i++) {
      const y = rng.int(o.classes);
      const r = rng.int(o.classes - 1);
      const altered = r >= y ? r + 1 : r;
      // The innocent model: the victim's answer with probability `agree`, else any other class.
      const other = rng.int(o.classes - 1);
      const got = rng.next() < o.agree ? y : other >= y ? other + 1 : other;
      qs.push({ kind: "watermark", client: `c${c}`, expected: altered, got });
    }
  }
  return qs;
}

describe("DAWN verdict", () => {
  it("never calls more than α of innocent models stolen, even the worst one (never agrees with the victim)", () => {
    const rng = createRng(42, "dawn-null");
    const alpha = 0.01;
    for (const agree of [0, 0.9]) {
      let stolen = 0;
      const trials = 3000;
      for (let t = 0; t < trials; t++) {
        const qs = innocentRun(rng, { clients: 3, n: 40, classes: 10, agree });
        const { result } = decideDawn(dawnOutcomes(qs, 10), { alpha, maxFailureFraction: 0.1, complete: true });
        if (result.verdict === "stolen") stolen++;
      }
      // 3σ above α for 3000 trials: a valid test stays below (the exact tail is conservative).
      expect(stolen / trials).toBeLessThan(alpha + 3 * Math.sqrt((alpha * (1 - alpha)) / trials));
    }
  });

  it("tests each client alone with a Bonferroni factor of the client count, and names the strongest", () => {
    const qs: Q[] = [
      ...Array.from({ length: 30 }, (_, i) => ({
        kind: "watermark" as const,
        client: "thief",
        expected: 3,
        got: i < 20 ? 3 : 4,
      })),
      ...Array.from({ length: 30 }, () => ({ kind: "watermark" as const, client: "honest", expected: 3, got: 4 })),
      { kind: "decoy", client: null, expected: null, got: 1 },
    ];
    const { clients, result } = decideDawn(dawnOutcomes(qs, 10), {
      alpha: 1e-6,
      maxFailureFraction: 0.1,
      complete: true,
    });
    expect(clients.map((c) => [c.client, c.decision.matches, c.decision.planned, c.decision.multiplicity])).toEqual([
      ["thief", 20, 30, 2],
      ["honest", 0, 30, 2],
    ]);
    expect(result).toMatchObject({ verdict: "stolen", client: "thief", clients: 2, matches: 20 });
    // Bin(30, 1/9) upper tail at 20, times 2 (scipy: binom.sf(19, 30, 1/9) = 8.087414776527223e-13).
    expect(Math.abs(result.pValue / 2 / 8.087414776527223e-13 - 1)).toBeLessThan(1e-9);
  });

  it("failures count as mismatches; too many make a clean-looking run inconclusive", () => {
    const qs: Q[] = Array.from({ length: 20 }, (_, i) => ({
      kind: "watermark",
      client: "a",
      expected: 1,
      got: i < 5 ? null : 2,
    }));
    const { result } = decideDawn(dawnOutcomes(qs, 10), { alpha: 1e-6, maxFailureFraction: 0.1, complete: true });
    expect(result).toMatchObject({ verdict: "inconclusive", failures: 5, matches: 0 });
  });
});
