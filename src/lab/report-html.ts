import type { LabRow } from "./lab-types.js";
import type { NullBankResult } from "./null-bank.js";
import type { LabResult } from "./run-lab.js";

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);

/** A p-value from its log10, readable at any size. */
export function fmtLog10P(l: number | null): string {
  if (l === null) return "—";
  if (l > -4) return (10 ** l).toPrecision(3);
  const e = Math.floor(l);
  return `${(10 ** (l - e)).toFixed(2)}e${e}`;
}

const fmtAlpha = (a: number) => (a < 1e-3 ? a.toExponential(0) : String(a));

const W = 460;
const H = 300;
const M = { l: 52, r: 14, t: 16, b: 40 };

/** Accuracy (x) vs log10 trigger p (y, filled) and weight p (hollow) for one family, with α and −5 pp lines. */
function scatter(rows: LabRow[], r: LabResult): string {
  const accs = rows.map((x) => x.accuracy * 100).concat([r.baseline.accuracy * 100 - 6, r.baseline.accuracy * 100]);
  const x0 = Math.max(0, Math.floor(Math.min(...accs) - 1));
  const x1 = Math.min(100, Math.ceil(Math.max(...accs) + 1));
  const ys = rows.flatMap((x) => [x.triggerLog10PValue, x.weightLog10PValue ?? 0]);
  const y0 = Math.min(Math.log10(r.alpha) - 2, ...ys.map((y) => Math.max(y, -120)));
  const sx = (v: number) => M.l + ((v - x0) / (x1 - x0 || 1)) * (W - M.l - M.r);
  const sy = (v: number) => M.t + (Math.max(v, -120) / y0) * (H - M.t - M.b);
  const parts: string[] = [];
  parts.push(
    `<rect x="${M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" fill="#fafafa" stroke="#999"/>`,
  );
  for (let i = 0; i <= 4; i++) {
    const v = (y0 * i) / 4;
    parts.push(`<text x="${M.l - 4}" y="${sy(v) + 4}" text-anchor="end" font-size="10">${v.toFixed(0)}</text>`);
    const a = x0 + ((x1 - x0) * i) / 4;
    parts.push(`<text x="${sx(a)}" y="${H - M.b + 14}" text-anchor="middle" font-size="10">${a.toFixed(1)}</text>`);
  }
  const la = Math.log10(r.alpha);
  parts.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${sy(la)}" y2="${sy(la)}" stroke="#c00" stroke-dasharray="5 3"/>`);
  parts.push(
    `<text x="${W - M.r - 2}" y="${sy(la) - 3}" text-anchor="end" font-size="10" fill="#c00">α = ${fmtAlpha(r.alpha)}</text>`,
  );
  const cut = r.baseline.accuracy * 100 - 5;
  parts.push(
    `<line x1="${sx(cut)}" x2="${sx(cut)}" y1="${M.t}" y2="${H - M.b}" stroke="#06c" stroke-dasharray="5 3"/>`,
  );
  parts.push(`<text x="${sx(cut) + 3}" y="${M.t + 11}" font-size="10" fill="#06c">−5 pp</text>`);
  for (const row of rows) {
    const color = row.removed ? "#d00" : row.verdict === "watermarked" ? "#080" : "#999";
    const title = esc(
      `${row.attack}: acc ${(row.accuracy * 100).toFixed(2)}%, trigger p ${fmtLog10P(row.triggerLog10PValue)}, weight p ${fmtLog10P(row.weightLog10PValue)}`,
    );
    parts.push(
      `<circle cx="${sx(row.accuracy * 100)}" cy="${sy(row.triggerLog10PValue)}" r="4" fill="${color}"><title>${title}</title></circle>`,
    );
    if (row.weightLog10PValue !== null) {
      parts.push(
        `<rect x="${sx(row.accuracy * 100) - 3.5}" y="${sy(row.weightLog10PValue) - 3.5}" width="7" height="7" fill="none" stroke="${color}"><title>${title}</title></rect>`,
      );
    }
  }
  parts.push(`<text x="${(W + M.l) / 2}" y="${H - 6}" text-anchor="middle" font-size="11">test accuracy (%)</text>`);
  parts.push(
    `<text x="12" y="${H / 2}" transform="rotate(-90 12 ${H / 2})" text-anchor="middle" font-size="11">log10 p</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${parts.join("")}</svg>`;
}

function histogram(nb: NullBankResult): string {
  const entries = Object.entries(nb.summary.triggerMatchHistogram).map(([k, v]) => [Number(k), v] as const);
  const n = nb.models[0]?.triggers ?? 1;
  const maxK = Math.max(n * nb.summary.expectedMatchRate * 2.5, ...entries.map(([k]) => k + 1));
  const maxV = Math.max(1, ...entries.map(([, v]) => v));
  const bw = (W - M.l - M.r) / (maxK + 1);
  const bars = entries.map(([k, v]) => {
    const h = (v / maxV) * (H - M.t - M.b);
    return `<rect x="${M.l + k * bw}" y="${H - M.b - h}" width="${Math.max(1, bw - 1)}" height="${h}" fill="#468"><title>${k} matches: ${v} model(s)</title></rect>`;
  });
  const exp = n * nb.summary.expectedMatchRate;
  bars.push(
    `<line x1="${M.l + exp * bw}" x2="${M.l + exp * bw}" y1="${M.t}" y2="${H - M.b}" stroke="#c00" stroke-dasharray="4 3"/>`,
  );
  bars.push(
    `<text x="${M.l + exp * bw + 3}" y="${M.t + 10}" font-size="10" fill="#c00">expected ${exp.toFixed(1)}</text>`,
  );
  bars.push(
    `<text x="${(W + M.l) / 2}" y="${H - 6}" text-anchor="middle" font-size="11">trigger matches of unmarked models (of ${n})</text>`,
  );
  bars.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${H - M.b}" y2="${H - M.b}" stroke="#999"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${bars.join("")}</svg>`;
}

/** A self-contained HTML page (inline CSS and SVG, no scripts or network) for a lab result. */
export function renderReport(r: LabResult): string {
  const families = [...new Set(r.rows.map((x) => x.family))];
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  const targetRows = r.targets
    .map(
      (t) =>
        `<tr class="${t.met === true ? "ok" : t.met === false ? "bad" : ""}"><td>${esc(t.target)}</td><td>${t.met === null ? "not run" : t.met ? "survived" : "NOT survived"}</td><td>${t.settings
          .map((s) =>
            esc(
              `${s.attack}: ${s.outcome} (−${s.accuracyDropPp.toFixed(2)} pp, p ${fmtLog10P(s.combinedLog10PValue)})`,
            ),
          )
          .join("<br>")}</td></tr>`,
    )
    .join("");
  const table = r.rows
    .map(
      (x) =>
        `<tr class="${x.removed ? "bad" : x.verdict === "watermarked" ? "ok" : ""}"><td>${esc(x.family)}</td><td>${esc(x.attack)}</td><td>${pct(x.accuracy)}</td><td>${x.accuracyDropPp.toFixed(2)}</td><td>${x.triggerMatches}/${x.triggers}</td><td>${fmtLog10P(x.triggerLog10PValue)}</td><td>${x.weightBitErrors ?? "—"}/${x.weightBits}</td><td>${fmtLog10P(x.weightLog10PValue)}</td><td>${esc(x.tests)}</td><td>${x.verdict}</td><td>${x.removed ? "REMOVED" : "no"}</td><td>${x.seconds.toFixed(1)}</td></tr>`,
    )
    .join("");
  const plots = families
    .map(
      (f) =>
        `<figure><figcaption>${esc(f)}</figcaption>${scatter(
          r.rows.filter((x) => x.family === f),
          r,
        )}</figure>`,
    )
    .join("");
  let nullSection = "<p>No null bank in this run (<code>--null-models N</code>).</p>";
  if (r.nullBank !== undefined) {
    const s = r.nullBank.summary;
    nullSection = `<p>${s.models} unmarked models (${s.archs.join(", ")}), each on its own random data subset. Expected false match rate ${s.expectedMatchRate.toFixed(3)}; mean ${s.meanFalseMatchRate.toFixed(3)}; largest ${s.maxFalseMatchRate.toFixed(3)}. Smallest p: trigger ${fmtLog10P(s.minTriggerLog10PValue)}, weight ${fmtLog10P(s.minWeightLog10PValue)}, combined ${fmtLog10P(s.minCombinedLog10PValue)}. Models at α = 1e-6: <b>${s.atAlpha["1e-6"]}</b>; at 1e-3: <b>${s.atAlpha["1e-3"]}</b>.</p>${histogram(r.nullBank)}
<table><tr><th>arch</th><th>seed</th><th>accuracy</th><th>triggers</th><th>trigger p</th><th>bit errors</th><th>weight p</th><th>combined p</th></tr>${r.nullBank.models
      .map(
        (m) =>
          `<tr><td>${m.arch}</td><td>${m.seed}</td><td>${pct(m.accuracy)}</td><td>${m.triggerMatches}/${m.triggers}</td><td>${fmtLog10P(m.triggerLog10PValue)}</td><td>${m.weightBitErrors ?? "—"}/${m.weightBits}</td><td>${fmtLog10P(m.weightLog10PValue)}</td><td>${fmtLog10P(m.combinedLog10PValue)}</td></tr>`,
      )
      .join("")}</table>`;
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>provmark robustness report</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:24px;max-width:1200px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}tr.ok td{background:#eef8ee}tr.bad td{background:#fbeaea}figure{display:inline-block;margin:8px}figcaption{font-weight:600}code{background:#f3f3f3}</style></head>
<body><h1>Robustness report</h1>
<p>Model <code>${esc(r.model)}</code>, dataset <code>${esc(r.dataset)}</code>, key commitment <code>${r.keyCommitment.slice(0, 16)}…</code>, backend ${esc(r.backend)}, α = ${fmtAlpha(r.alpha)}, ${r.createdAt}.</p>
<p>Marked model: accuracy ${pct(r.baseline.accuracy)}, trigger p ${fmtLog10P(r.baseline.triggerLog10PValue)}, weight p ${fmtLog10P(r.baseline.weightLog10PValue)} (${r.baseline.verdict}).
An attack <b>removes</b> the watermark when the verdict misses α while the attacked model keeps its test accuracy within 5 pp of the marked model. Input transforms are scored on the trigger test alone (the owner only sees the API).</p>
<h2>Targets</h2><table><tr><th>target</th><th>result</th><th>settings</th></tr>${targetRows}</table>
<h2>Accuracy vs watermark p-value</h2><p>Dots: trigger-set p; squares: weight-mark p. Green: detected; red: removed; grey: missed α but the model lost more than 5 pp. Red dashed line: α; blue: marked accuracy − 5 pp.</p>${plots}
<h2>All settings</h2><table><tr><th>family</th><th>attack</th><th>accuracy</th><th>drop (pp)</th><th>triggers</th><th>trigger p</th><th>bit errors</th><th>weight p</th><th>tests</th><th>verdict</th><th>removed?</th><th>s</th></tr>${table}</table>
<h2>Null-model bank (false positives)</h2>${nullSection}
</body></html>
`;
}
