import type { DawnEvidenceReport } from "../../core/detect/dawn-evidence.js";

const esc = (s: unknown) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );

const pText = (p: number, log10: number) => (p === 0 ? `1e${log10.toFixed(1)}` : p.toExponential(3));

/** A self-contained HTML page for a DAWN evidence report (no scripts, no external resources). */
export function renderDawnEvidenceHtml(r: DawnEvidenceReport): string {
  const res = r.result;
  const colour = { stolen: "#c0392b", "not-detected": "#27ae60", inconclusive: "#d68910" }[res.verdict];
  const clients = r.clients
    .map(
      (c) =>
        `<tr><td>${esc(c.client)}</td><td>${c.decision.matches} / ${c.decision.planned}</td><td>${c.decision.failures}</td><td>${pText(c.decision.pValue, c.decision.log10PValue)}</td><td>${esc(c.decision.verdict)}</td></tr>`,
    )
    .join("\n");
  const rows = r.queries
    .filter((q) => q.kind === "watermark")
    .map(
      (q) =>
        `<tr><td>${esc(q.client)}</td><td>${q.seq}</td><td><code>${esc(q.inputSha256?.slice(0, 16))}…</code></td><td>${q.expected}</td><td>${q.got ?? "—"}</td><td>${q.got === null ? esc(q.failure ?? "failed") : q.got === q.expected ? "✔" : ""}</td><td><code>${esc(q.requestSha256?.slice(0, 16) ?? "")}…</code></td><td><code>${esc(q.responseSha256?.slice(0, 16) ?? "")}…</code></td></tr>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>provmark DAWN evidence: ${esc(res.verdict)} — ${esc(r.suspect.target)}</title>
<style>body{font:14px/1.5 system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.4em}.verdict{color:#fff;background:${colour};padding:.15em .5em;border-radius:4px}
table{border-collapse:collapse;width:100%;font-size:12px}td,th{border-bottom:1px solid #ddd;padding:2px 6px;text-align:left}
code{font-size:12px}.claim{background:#eaf2f8;border-left:4px solid #2e86c1;padding:.4em .8em}dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}dt{color:#666}</style></head>
<body>
<h1>DAWN watermark detection: <span class="verdict">${esc(res.verdict)}</span></h1>
<dl>
<dt>suspect</dt><dd>${esc(r.suspect.target)} (${esc(r.suspect.protocol)}${r.suspect.modelName ? `, model ${esc(r.suspect.modelName)}` : ""})</dd>
<dt>strongest client</dt><dd>${esc(res.client ?? "—")}: <b>${res.matches}</b> of ${res.planned} altered labels reproduced (${res.failures} failed)</dd>
<dt>p-value</dt><dd><b>${pText(res.pValue, res.log10PValue)}</b> (exact binomial tail at 1/(C−1) = 1/${r.log.modelIO.classes.count - 1}, failures as mismatches, Bonferroni ×${res.multiplicity} over clients); α = ${res.alpha}</dd>
${res.reason ? `<dt>note</dt><dd>${esc(res.reason)}</dd>` : ""}
<dt>DAWN log</dt><dd>SHA-256 <code>${esc(r.log.sha256)}</code>, ${r.log.records} records, rate ${r.log.rate}, key commitment <code>${esc(r.log.keyCommitment)}</code>${r.log.duplicates ? `; ${r.log.duplicates} repeated inputs counted once` : ""}</dd>
<dt>run</dt><dd>${esc(r.run.startedAt)} → ${esc(r.run.finishedAt)}, ${r.stats.requests} requests, ${r.stats.decoys} decoys${r.run.complete ? "" : " (interrupted)"}</dd>
<dt>tool</dt><dd>${esc(r.tool)}, report created ${esc(r.createdAt)}</dd>
</dl>
<p class="claim">${esc(r.claim)}</p>
<p>Re-check: <code>provmark evidence verify &lt;this report's directory&gt;</code> checks every body against its SHA-256, re-reads each answer, recounts the matches and recomputes each client's p-value at the verifier's α.</p>
<h2>Clients</h2>
<table><thead><tr><th>client</th><th>matches / planned</th><th>failures</th><th>p (Bonferroni)</th><th>verdict</th></tr></thead>
<tbody>
${clients}
</tbody></table>
<h2>Replayed inputs</h2>
<table><thead><tr><th>client</th><th>log record</th><th>input SHA-256</th><th>altered label</th><th>answer</th><th>match</th><th>request SHA-256</th><th>response SHA-256</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}
