import type { EvidenceReport } from "../../core/detect/evidence.js";
import { certificateClasses } from "../../core/watermark/certificate.js";
import { DEV_CHAIN_LABEL, devChainFromReport } from "../dev-chain.js";

const esc = (s: unknown) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );

/** Null distribution of the match count: Poisson-binomial pmf by dynamic programming, as log10. */
export function nullLog10Pmf(ps: readonly number[]): number[] {
  let pmf = new Float64Array([1]);
  for (const p of ps) {
    const next = new Float64Array(pmf.length + 1);
    for (let k = 0; k < pmf.length; k++) {
      next[k] = (next[k] as number) + (pmf[k] as number) * (1 - p);
      next[k + 1] = (next[k + 1] as number) + (pmf[k] as number) * p;
    }
    pmf = next;
  }
  return [...pmf].map((v) => (v > 0 ? Math.log10(v) : Number.NEGATIVE_INFINITY));
}

/** An SVG bar chart of the null pmf (log scale) with the observed match count marked. */
function plot(ps: readonly number[], observed: number): string {
  const W = 720;
  const H = 260;
  const pad = { l: 56, r: 16, t: 16, b: 40 };
  const pmf = nullLog10Pmf(ps);
  const n = pmf.length - 1;
  const floor = Math.max(-80, Math.min(-6, Math.floor(Math.min(...pmf.filter(Number.isFinite)))));
  const x = (k: number) => pad.l + ((W - pad.l - pad.r) * (k + 0.5)) / (n + 1);
  const y = (l: number) => pad.t + ((H - pad.t - pad.b) * (0 - Math.max(l, floor))) / (0 - floor);
  const bw = Math.max(1, (W - pad.l - pad.r) / (n + 1) - 1);
  const bars = pmf
    .map((l, k) =>
      Number.isFinite(l) && l > floor
        ? `<rect x="${(x(k) - bw / 2).toFixed(1)}" y="${y(l).toFixed(1)}" width="${bw.toFixed(1)}" height="${(H - pad.b - y(l)).toFixed(1)}" fill="#7a8ca5"><title>P[matches = ${k}] = 1e${l.toFixed(1)}</title></rect>`
        : "",
    )
    .join("");
  const ticks = Array.from({ length: 5 }, (_, i) => Math.round((floor * i) / 4))
    .map((l) => `<text x="${pad.l - 6}" y="${y(l) + 4}" text-anchor="end">1e${l}</text>`)
    .join("");
  const xticks = [0, Math.round(n / 2), n]
    .map((k) => `<text x="${x(k)}" y="${H - pad.b + 16}" text-anchor="middle">${k}</text>`)
    .join("");
  return `<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="null distribution of matches with the observed count" font-size="11" font-family="sans-serif">
<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="#333"/>
<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="#333"/>
${bars}${ticks}${xticks}
<line x1="${x(observed)}" y1="${pad.t}" x2="${x(observed)}" y2="${H - pad.b}" stroke="#c0392b" stroke-width="2"/>
<text x="${x(observed)}" y="${pad.t + 10}" fill="#c0392b" text-anchor="${observed > n / 2 ? "end" : "start"}" dx="${observed > n / 2 ? -4 : 4}">observed: ${observed}</text>
<text x="${(W + pad.l) / 2}" y="${H - 6}" text-anchor="middle">matches among ${n} answered triggers (bars: probability under the null, log scale)</text>
</svg>`;
}

export interface HtmlOptions {
  /** Why the report's chain is a dev chain, as found on the chain (else judged from the report's chain id). */
  devChain?: string | null;
}

/** A self-contained HTML page for an evidence report (no scripts, no external resources). */
export function renderEvidenceHtml(r: EvidenceReport, o: HtmlOptions = {}): string {
  const classes = certificateClasses(r.certificate.document);
  const planned = r.queries.filter((q) => q.kind === "trigger");
  const res = r.result;
  const colour = { stolen: "#c0392b", "not-detected": "#27ae60", inconclusive: "#d68910" }[res.verdict];
  const rows = r.queries
    .filter((q) => q.kind === "trigger")
    .map(
      (q) =>
        `<tr><td>${esc(q.id)}</td><td>${q.trigger}</td><td>${q.expected}</td><td>${q.got ?? "—"}</td><td>${q.got === null ? esc(q.failure ?? "failed") : q.got === q.expected ? "✔" : ""}</td><td><code>${esc(q.requestSha256?.slice(0, 16) ?? "")}…</code></td><td><code>${esc(q.responseSha256?.slice(0, 16) ?? "")}…</code></td></tr>`,
    )
    .join("\n");
  const chain = r.onChain
    ? `<p>The certificate (hash <code>${esc(r.certificate.hash)}</code>) was registered on chain ${esc(r.onChain.chainId)} at <b>${esc(r.onChain.registeredAt)}</b> (block ${r.onChain.blockNumber}, tx <code>${esc(r.onChain.txHash)}</code>, registry <code>${esc(r.onChain.contract)}</code>) — before this run began at ${esc(r.run.startedAt)}.</p>`
    : "<p>No on-chain record was attached to this report.</p>";
  const dev = o.devChain ?? devChainFromReport(r.onChain);
  const devNote =
    dev === null
      ? ""
      : `<p class="dev"><b>${esc(DEV_CHAIN_LABEL)}</b>: ${esc(dev)}. Whoever runs such a chain can rewrite it, so its timestamps prove no priority.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>provmark evidence: ${esc(res.verdict)} — ${esc(r.suspect.target)}</title>
<style>body{font:14px/1.5 system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.4em}.verdict{color:#fff;background:${colour};padding:.15em .5em;border-radius:4px}
table{border-collapse:collapse;width:100%;font-size:12px}td,th{border-bottom:1px solid #ddd;padding:2px 6px;text-align:left}
code{font-size:12px}.dev{background:#fdebd0;border-left:4px solid #d68910;padding:.4em .8em}dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}dt{color:#666}</style></head>
<body>
<h1>Watermark detection: <span class="verdict">${esc(res.verdict)}</span></h1>
<dl>
<dt>suspect</dt><dd>${esc(r.suspect.target)} (${esc(r.suspect.protocol)}${r.suspect.modelName ? `, model ${esc(r.suspect.modelName)}` : ""})</dd>
<dt>matches</dt><dd><b>${res.matches}</b> of ${res.n} answered triggers (${res.failures} failed of ${res.planned} planned; ${r.stats.decoys} decoys mixed in)</dd>
<dt>p-value</dt><dd><b>${res.pValue === 0 ? `1e${res.log10PValue.toFixed(1)}` : res.pValue.toExponential(3)}</b> (${esc(res.method)}); α = ${res.alpha}</dd>
${res.empirical ? `<dt>empirical p</dt><dd>${res.empirical.pValue.toFixed(4)} against ${res.empirical.referenceMatches.length} reference models (matches ${res.empirical.referenceMatches.join(", ")})</dd>` : ""}
${res.reason ? `<dt>note</dt><dd>${esc(res.reason)}</dd>` : ""}
${whiteBoxRows(r)}
<dt>run</dt><dd>${esc(r.run.startedAt)} → ${esc(r.run.finishedAt)}, ${r.stats.requests} requests, ${r.stats.retries} retries${r.run.complete ? "" : " (interrupted)"}</dd>
<dt>tool</dt><dd>${esc(r.tool)}, report created ${esc(r.createdAt)}</dd>
</dl>
${chain}
${devNote}
<h2>Observed matches against the null distribution</h2>
${plot(
  planned.map(() => 1 / classes),
  res.matches,
)}
<p>Anyone can re-check this report without the secret key: <code>provmark evidence verify &lt;this report's directory&gt;</code> verifies the certificate and the run plan, recomputes every trigger from its VRF proof (v2 certificates), checks every request/response body against its SHA-256, re-reads each answer and each claimed failure from its response, finds each trigger in its request, and recomputes the p-value at the verifier's own α, counting every committed run (Bonferroni ×${res.multiplicity} here).</p>
<h2>Trigger queries</h2>
<table><thead><tr><th>query</th><th>trigger</th><th>secret label</th><th>answer</th><th>match</th><th>request SHA-256</th><th>response SHA-256</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}

/** `--protocol url`: the weight-mark test, the combined verdict and the fetched model's digest. */
function whiteBoxRows(r: EvidenceReport): string {
  const wb = r.whiteBox;
  if (wb === null || r.download === null) return "";
  const w = wb.weightMark;
  const mark = w.applicable
    ? `<b>${w.matches}</b> of ${w.bits} bits match in ${esc(w.layer)} (p = 1e${w.log10PValue.toFixed(1)})`
    : `not tested: ${esc(w.reason)}`;
  return `<dt>weight mark</dt><dd>${mark}</dd>
<dt>both tests</dt><dd><b>${esc(wb.combined.verdict)}</b> (Bonferroni over ${wb.combined.tests} test(s): p = 1e${wb.combined.log10PValue.toFixed(1)})</dd>
<dt>fetched model</dt><dd>${r.download.files.length} files, weights digest <code>${esc(r.download.weightsDigest)}</code> (kept in suspect-model/)</dd>`;
}
