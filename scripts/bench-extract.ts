/**
 * `npm run bench:extract`: the extraction table of docs/robustness.md. Trains an MNIST MLP and CNN
 * victim (`provmark train`, training split), serves each with `startModelServer` on 127.0.0.1, and
 * extracts surrogates through TF Serving REST with `extractSurrogate` (499 held-out digits for
 * agreement, test accuracy on them). Prints one row per setting.
 * Options: --quick (three rows), --json (one JSON line per row), --keep (leave the temp dir).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ExtractOptions, extractSurrogate } from "../src/lab/extract.js";
import type { Arch } from "../src/model/archs.js";
import { trainModel } from "../src/model/train-model.js";
import { startModelServer } from "../src/serve/model-server.js";

const json = process.argv.includes("--json");
const quick = process.argv.includes("--quick");
const root = mkdtempSync(join(tmpdir(), "provmark-bench-extract-"));

type Row = [victim: Arch, ExtractOptions["strategy"], number, Arch, ExtractOptions["answers"]];
const ROWS: Row[] = [
  ["mlp", "natural", 5000, "mlp", "labels"],
  ["mlp", "natural", 5000, "mlp", "probabilities"],
  ["mlp", "natural", 20000, "mlp", "labels"],
  ["mlp", "natural", 20000, "mlp", "probabilities"],
  ["mlp", "jbda", 5000, "mlp", "labels"],
  ["mlp", "jbda", 20000, "mlp", "labels"],
  ["mlp", "jbda", 5000, "cnn", "labels"],
  ["mlp", "noise", 5000, "mlp", "labels"],
  ["cnn", "natural", 5000, "cnn", "labels"],
  ["cnn", "natural", 5000, "mlp", "labels"],
  ["cnn", "natural", 20000, "mlp", "probabilities"],
  ["cnn", "natural", 20000, "cnn", "probabilities"],
  ["cnn", "jbda", 5000, "cnn", "probabilities"],
];
const rows = quick ? ROWS.filter((_, i) => i === 0 || i === 6 || i === 2) : ROWS;

try {
  for (const victim of ["mlp", "cnn"] as const) {
    const mine = rows.filter((r) => r[0] === victim);
    if (mine.length === 0) continue;
    const dir = join(root, `victim-${victim}`);
    const t = await trainModel({
      dataset: "mnist",
      arch: victim,
      out: dir,
      seed: 3,
      backend: "wasm",
      ...(victim === "mlp" ? { epochs: 8 } : {}),
    });
    process.stderr.write(`victim ${victim}: test accuracy ${(t.testAccuracy * 100).toFixed(1)}%\n`);
    const server = await startModelServer({ modelDir: dir, port: 0, backend: "wasm" });
    try {
      for (const [, strategy, queries, arch, answers] of mine) {
        const before = server.stats().instances;
        const r = await extractSurrogate({
          endpoint: server.url,
          protocol: "tfserving",
          modelName: server.modelName,
          queries,
          strategy,
          arch,
          answers,
          out: join(root, `${victim}-${strategy}-${queries}-${arch}-${answers}`),
          agreementQueries: 499,
          evalDataset: "mnist",
          backend: "wasm",
        });
        const seen = server.stats().instances - before;
        const row = { victim, ...r, serverInstances: seen };
        if (json) console.log(JSON.stringify(row));
        else {
          const pct = (x: number | null) => (x === null ? "-" : `${(x * 100).toFixed(1)}%`);
          console.log(
            `${victim} ${strategy} ${queries} → ${arch} (${answers}): agreement ${pct(r.agreement)}, accuracy ${pct(r.testAccuracy)}, ` +
              `${r.seconds.total.toFixed(1)} s (${r.seconds.querying.toFixed(1)} + ${r.seconds.training.toFixed(1)}), ` +
              `sent ${r.queries.sent} + ${r.queries.agreementSent}, server saw ${seen}${r.rounds.length > 1 ? `, rounds ${r.rounds.join(",")}` : ""}`,
          );
        }
      }
    } finally {
      await server.close();
    }
  }
} finally {
  if (!process.argv.includes("--keep")) rmSync(root, { recursive: true, force: true });
}
