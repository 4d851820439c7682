/**
 * Runs one provmark write in its own process, so a test can limit its file size (ulimit -f: real
 * short writes) or trace its system calls (strace). Usage: node --import tsx fs-child.ts <mode> <path> <bytes>.
 * Prints one JSON line: {"ok":true} or {"ok":false,"code":…,"message":…}.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { openRunJournal } from "../../src/detect/runner/journal.js";
import { createJournal, JournalWriter, newJournalHeader, readJournal } from "../../src/ledger/embedded/journal.js";
import { writeDirAtomic, writeFileAtomic } from "../../src/model/atomic-write.js";

const [mode, path, size] = process.argv.slice(2) as [string, string, string];
const bytes = Number(size);
const sha = (c: string) => c.repeat(64);

async function main(): Promise<void> {
  if (mode === "file") return writeFileAtomic(path, "x".repeat(bytes));
  if (mode === "dir") {
    return writeDirAtomic(path, async (tmp) => {
      await writeFile(join(tmp, "report.json"), "x".repeat(bytes));
      await mkdir(join(tmp, "bodies"));
      await writeFile(join(tmp, "bodies", sha("a")), "y".repeat(bytes));
    });
  }
  if (mode === "run-journal") {
    const { writer } = await openRunJournal(path, { protocol: "tfserving", target: "http://127.0.0.1:1" });
    const line = (id: string, s: string) => ({
      id,
      result: { ok: true as const, label: 1 },
      exchange: {
        requestSha256: sha(s),
        responseSha256: null,
        status: 200,
        startedAt: new Date(0).toISOString(),
        ms: 1,
        requestBytes: 1,
        responseBytes: 0,
      },
      batch: { index: 0, size: 1 },
    });
    try {
      await writer.append([line("small", "1")], [{ sha256: sha("1"), bytes: new Uint8Array(10) }]);
      // the body alone is larger than the file size limit: its write comes back short
      await writer.append([line("big", "2")], [{ sha256: sha("2"), bytes: new Uint8Array(bytes) }]);
    } finally {
      await writer.close();
    }
    return;
  }
  if (mode === "run-journal-lines") {
    const { writer } = await openRunJournal(path, { protocol: "tfserving", target: "http://127.0.0.1:1" });
    const lines = Array.from({ length: Math.ceil(bytes / 200) }, (_, i) => ({
      id: `q${i}-${"p".repeat(40)}`,
      result: { ok: true as const, label: 1 },
      exchange: {
        requestSha256: sha("1"),
        responseSha256: null,
        status: 200,
        startedAt: new Date(0).toISOString(),
        ms: 1,
        requestBytes: 1,
        responseBytes: 0,
      },
      batch: { index: 0, size: 1 },
    }));
    try {
      await writer.append(lines.slice(0, 1), []);
      await writer.append(lines, []);
    } finally {
      await writer.close();
    }
    return;
  }
  if (mode === "chain-journal") {
    await createJournal(path, newJournalHeader(1_700_000_000));
    const contents = await readJournal(path);
    if (!contents) throw new Error("no journal");
    const writer = await JournalWriter.open(contents);
    const block = (n: number, rawBytes: number) => ({
      n,
      t: 1_700_000_000 + n,
      txs: [{ raw: `0x${"ab".repeat(rawBytes)}`, hash: `0x${"cd".repeat(32)}`, status: 1 as const }],
    });
    try {
      await writer.append(block(1, 10));
      await writer.append(block(2, bytes));
    } finally {
      await writer.close();
    }
    return;
  }
  throw new Error(`unknown mode ${mode}`);
}

main().then(
  () => process.stdout.write(`${JSON.stringify({ ok: true })}\n`),
  (e: { code?: unknown; message?: unknown }) =>
    process.stdout.write(`${JSON.stringify({ ok: false, code: e.code, message: String(e.message) })}\n`),
);
