import { createHash } from "node:crypto";
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync, gzipSync, inflateSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { parseHeaders } from "../../src/detect/adapters/headers.js";
import { verifyEvidence } from "../../src/detect/evidence-verify.js";
import { BodyLog } from "../../src/detect/runner/body-log.js";
import { recheckJournal } from "../../src/detect/runner/recheck.js";
import { expectedLabel, FAKE_SERVER, FakeSuspect, makeQueries } from "./helpers/fake-suspect.js";
import { allFilesText, journalLines, labelsOf, runAgainst } from "./helpers/run.js";
import { detectToReport, toyRelease } from "./helpers/toy-release.js";

const shape = [3, 3, 1] as const;
const classes = 4;
const queries = makeQueries(8, shape, 3);
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const UNDO = { gzip: gunzipSync, br: brotliDecompressSync, deflate: inflateSync };

let server: FakeSuspect | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const open = (s: FakeSuspect, headers: Record<string, string> = {}) => ({
  protocol: "tfserving",
  endpoint: s.url,
  modelName: "m",
  headers,
  classes,
  inputShape: shape,
});

describe("response bodies are hashed and kept exactly as received", () => {
  it.each(["gzip", "br", "deflate"] as const)(
    "%s: the stored, hashed body is the compressed wire bytes",
    async (encoding) => {
      server = (await FakeSuspect.start({ protocol: "tfserving", classes, shape, encoding })).register(queries);
      const { run, runDir, adapter } = await runAgainst(open(server), queries, { batchSize: 4 });
      for (const q of queries) expect(labelsOf(run).get(q.id)).toBe(expectedLabel(q.pixels, classes));
      const lines = await journalLines(runDir);
      const wire = new Map(server.sent.map((b) => [sha(b), b]));
      const log = await BodyLog.open(runDir, { readOnly: true });
      try {
        for (const l of lines) {
          const hash = l.exchange.responseSha256 as string;
          expect(wire.has(hash), "hash of the bytes the server sent").toBe(true);
          const stored = (await log.read(hash)) as Uint8Array;
          expect(Buffer.compare(Buffer.from(stored), wire.get(hash) as Buffer)).toBe(0);
          expect(JSON.parse(UNDO[encoding](stored).toString()).predictions).toHaveLength(4);
          expect(l.exchange.response).toMatchObject({
            encoding,
            headers: { server: FAKE_SERVER, contentType: "application/json; charset=utf-8" },
          });
          expect(Number.isNaN(Date.parse(l.exchange.response?.headers.date ?? ""))).toBe(false);
        }
      } finally {
        await log.close();
      }
      expect(await recheckJournal(runDir, adapter)).toEqual({ checked: 8, mismatches: [] });
    },
  );

  it("a server echoing a secret header: the hash is of the bytes received, the body is withheld, not redacted", async () => {
    const secret = "Bearer echo-me-7c1f2e9d";
    server = (
      await FakeSuspect.start({
        protocol: "tfserving",
        classes,
        shape,
        encoding: "gzip",
        behave: () => ({ json: (p) => ({ predictions: p.map((x) => x.probs), you_sent: secret }) }),
      })
    ).register(queries);
    const headers = parseHeaders(["Authorization: env:AUTH"], { AUTH: secret });
    const { run, runDir } = await runAgainst(open(server, headers), queries.slice(0, 4), { batchSize: 4 });
    expect(labelsOf(run).get("q0")).toBe(expectedLabel(queries[0]?.pixels as Uint8Array, classes));
    const [line] = await journalLines(runDir);
    expect(line?.exchange.responseSha256).toBe(sha(server.sent[0] as Buffer));
    expect(line?.exchange.response?.withheld).toMatch(/secret/);
    const log = await BodyLog.open(runDir, { readOnly: true });
    expect(log.has(line?.exchange.responseSha256 as string)).toBe(false);
    await log.close();
    expect(await allFilesText(runDir)).not.toContain("echo-me");
  });

  it("a body that does not decode as its Content-Encoding says: malformed, and the raw bytes are kept", async () => {
    const garbage = "this is not gzip at all";
    server = await FakeSuspect.start({
      protocol: "tfserving",
      classes,
      shape,
      behave: () => ({ status: 200, text: garbage, headers: { "content-encoding": "gzip" } }),
    });
    const { run, runDir } = await runAgainst(open(server), queries.slice(0, 2), { batchSize: 2 });
    const r = run.results.get("q0")?.result;
    expect(r?.ok === false && r.failure).toBe("malformed");
    expect(r?.ok === false && r.detail).toMatch(/gzip/);
    const [line] = await journalLines(runDir);
    expect(line?.exchange.responseSha256).toBe(sha(Buffer.from(garbage)));
    const log = await BodyLog.open(runDir, { readOnly: true });
    expect(Buffer.from((await log.read(sha(Buffer.from(garbage)))) as Uint8Array).toString()).toBe(garbage);
    await log.close();
  });

  it("a compressed body that inflates past the size limit is malformed (no memory blow-up)", async () => {
    const bomb = gzipSync(Buffer.alloc(65 * 1024 * 1024));
    server = await FakeSuspect.start({
      protocol: "tfserving",
      classes,
      shape,
      behave: () => ({ status: 200, text: bomb, headers: { "content-encoding": "gzip" } }),
    });
    const { run } = await runAgainst(open(server), queries.slice(0, 1), { batchSize: 1 });
    const r = run.results.get("q0")?.result;
    expect(r?.ok === false && r.failure).toBe("malformed");
    expect(r?.ok === false && r.detail).toMatch(/larger than/);
  });
});

describe("evidence from a compressing suspect", () => {
  it("records the encoding per query; the verifier decodes as recorded, and a changed encoding fails", async () => {
    const release = await toyRelease();
    server = await FakeSuspect.start({ protocol: "tfserving", classes, shape, encoding: "br" });
    const { reportDir } = await detectToReport({ ...release, url: server.url });
    const report = JSON.parse(await readFile(join(reportDir, "report.json"), "utf8"));
    const sent = report.queries.filter((q: { responseSha256: string | null }) => q.responseSha256 !== null);
    expect(sent.length).toBeGreaterThan(0);
    for (const q of sent) {
      expect(q.response).toMatchObject({ encoding: "br", headers: { server: FAKE_SERVER } });
      const body = await readFile(join(reportDir, "bodies", q.responseSha256));
      expect(sha(body)).toBe(q.responseSha256);
      expect(() => JSON.parse(body.toString())).toThrow(); // compressed, as received
    }
    const ok = await verifyEvidence(reportDir);
    const byName = (c: typeof ok.check, name: string) => c.checks.find((x) => x.name.startsWith(name))?.status;
    expect(byName(ok.check, "bodies match their SHA-256")).toBe("pass");
    expect(byName(ok.check, "answers and failures re-read")).toBe("pass");

    const edited = `${reportDir}-edited`;
    await cp(reportDir, edited, { recursive: true });
    for (const q of report.queries) if (q.response) q.response.encoding = null;
    await writeFile(join(edited, "report.json"), JSON.stringify(report));
    const bad = await verifyEvidence(edited);
    expect(byName(bad.check, "answers and failures re-read")).toBe("fail");
  });
});
