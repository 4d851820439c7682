import { randomBytes } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { toHex } from "../../src/core/digest/bytes.js";
import { legacyModelIO } from "../../src/core/input/model-io.js";
import { dawnLogKey, envelopeKey, KeyStream, keyCommitment } from "../../src/core/keys/derive.js";
import { type DawnRecord, openDawnLogWriter, readDawnLog } from "../../src/guard/dawn-log.js";
import { tempDir } from "../helpers/fixtures.js";

const io = legacyModelIO([2, 3, 1], 5);
const seed = randomBytes(32);
const meta = { modelIO: io, rate: 0.1, keyCommitment: toHex(keyCommitment(seed)) };

const rec = (i: number, client = "alice"): Omit<DawnRecord, "seq"> => ({
  client,
  time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
  shape: [2, 3, 1],
  input: Float32Array.from({ length: 6 }, (_, j) => (i * 6 + j) / 255),
  inputSha256: (i % 256).toString(16).padStart(2, "0").repeat(32),
  servedLabel: i % 5,
  modelLabel: (i + 1) % 5,
  classes: 5,
});

async function writeLog(n: number, clients = ["alice"]): Promise<string> {
  const path = join(await tempDir("provmark-dawn-"), "dawn.log");
  const w = await openDawnLogWriter(path, seed, meta);
  for (let i = 0; i < n; i++) await w.append(rec(i, clients[i % clients.length]));
  await w.close();
  return path;
}

const fails = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: { code: string; message: string }) => e,
  );

describe("DAWN watermark log", () => {
  it("round-trips records, in a 0600 file whose records are not readable without the key", async () => {
    const path = await writeLog(4, ["alice", "bob"]);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const log = await readDawnLog(path, seed);
    expect(log.warnings).toEqual([]);
    expect(log.meta).toMatchObject({ rate: 0.1, keyCommitment: meta.keyCommitment, modelIO: io });
    expect(log.records.map((r) => r.seq)).toEqual([0, 1, 2, 3]);
    expect(log.records[3]).toMatchObject({ client: "bob", servedLabel: 3, modelLabel: 4, classes: 5 });
    expect(Array.from(log.records[2]?.input ?? [])).toEqual(Array.from(rec(2).input));
    const text = await readFile(path, "utf8");
    expect(text).not.toContain("alice");
    expect((await readDawnLog(path, seed, { client: "bob" })).records.map((r) => r.seq)).toEqual([1, 3]);
  });

  it("serializes concurrent appends: every sequence number once, every record readable", async () => {
    const path = join(await tempDir("provmark-dawn-"), "dawn.log");
    const w = await openDawnLogWriter(path, seed, meta);
    await Promise.all(Array.from({ length: 25 }, (_, i) => w.append(rec(i))));
    await w.close();
    const log = await readDawnLog(path, seed);
    expect(log.records.map((r) => r.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(new Set(log.records.map((r) => r.time)).size).toBe(25);
  });

  it("a wrong key file is named (DAWN_LOG_WRONG_KEY), for the reader and the writer", async () => {
    const path = await writeLog(2);
    const other = randomBytes(32);
    const e = await fails(readDawnLog(path, other));
    expect(e.code).toBe("DAWN_LOG_WRONG_KEY");
    expect(e.message).toMatch(/another key file/);
    const w = await fails(openDawnLogWriter(path, other, { ...meta, keyCommitment: toHex(keyCommitment(other)) }));
    expect(w.code).toBe("DAWN_LOG_WRONG_KEY");
  });

  it("a flipped byte in a record fails, naming the record", async () => {
    const path = await writeLog(4);
    const lines = (await readFile(path, "utf8")).split("\n");
    const line = lines[3] as string; // record 2
    const at = line.indexOf('"ct":"') + 12;
    const flipped = line.slice(0, at) + (line[at] === "A" ? "B" : "A") + line.slice(at + 1);
    lines[3] = flipped;
    await writeFile(path, lines.join("\n"));
    const e = await fails(readDawnLog(path, seed));
    expect(e.code).toBe("DAWN_LOG_DECRYPT_FAILED");
    expect(e.message).toMatch(/record 2 \(line 4\)/);
  });

  it("records moved, dropped from the middle or copied from another log fail", async () => {
    const path = await writeLog(4);
    const lines = (await readFile(path, "utf8")).split("\n");
    const swapped = [lines[0], lines[2], lines[1], ...lines.slice(3)];
    await writeFile(path, swapped.join("\n"));
    expect((await fails(readDawnLog(path, seed))).code).toBe("DAWN_LOG_INVALID");
    // Renumbered to hide the swap: the sealed sequence number no longer opens.
    const renumbered = swapped.map((l, i) =>
      i === 1 || i === 2 ? (l as string).replace(/"seq":\d+/, `"seq":${i - 1}`) : l,
    );
    await writeFile(path, renumbered.join("\n"));
    expect((await fails(readDawnLog(path, seed))).code).toBe("DAWN_LOG_DECRYPT_FAILED");
    const other = await writeLog(4);
    const foreign = (await readFile(other, "utf8")).split("\n");
    await writeFile(path, [lines[0], foreign[1], ...lines.slice(2)].join("\n"));
    const e = await fails(readDawnLog(path, seed));
    expect(e.code).toBe("DAWN_LOG_DECRYPT_FAILED");
    expect(e.message).toMatch(/record 0/);
  });

  it("an edited header (the rate) is refused", async () => {
    const path = await writeLog(2);
    await writeFile(path, (await readFile(path, "utf8")).replace('"rate":0.1', '"rate":0.5'));
    const e = await fails(readDawnLog(path, seed));
    expect(e.code).toBe("DAWN_LOG_INVALID");
    expect(e.message).toMatch(/header/);
  });

  it("a torn last record is ignored with a warning, and the next append cuts it", async () => {
    const path = await writeLog(3);
    const full = await readFile(path);
    await writeFile(path, full.subarray(0, full.length - 40));
    const log = await readDawnLog(path, seed);
    expect(log.records.map((r) => r.seq)).toEqual([0, 1]);
    expect(log.warnings.join()).toMatch(/last record \(line 4\) is torn/);
    const w = await openDawnLogWriter(path, seed, meta);
    await w.append(rec(9));
    await w.close();
    const again = await readDawnLog(path, seed);
    expect(again.warnings).toEqual([]);
    expect(again.records.map((r) => [r.seq, r.servedLabel])).toEqual([
      [0, 0],
      [1, 1],
      [2, 4],
    ]);
  });

  it("a log with a damaged complete record is not taken for a torn one", async () => {
    const path = await writeLog(3);
    const lines = (await readFile(path, "utf8")).split("\n");
    lines[2] = (lines[2] as string).slice(0, 30);
    await writeFile(path, lines.join("\n"));
    const e = await fails(readDawnLog(path, seed));
    expect(e.code).toBe("DAWN_LOG_INVALID");
    expect(e.message).toMatch(/record 1 \(line 3\)/);
  });

  it("its key is its own HKDF domain: neither the envelope key nor any other label's bytes", () => {
    const k = dawnLogKey(seed);
    expect(k).toHaveLength(32);
    expect(toHex(dawnLogKey(seed))).toBe(toHex(k));
    expect(toHex(k)).not.toBe(toHex(envelopeKey(seed)));
    expect(toHex(k)).toBe(toHex(new KeyStream(seed, "guard/dawn-log/aes-256-gcm").bytes(32)));
    expect(toHex(dawnLogKey(randomBytes(32)))).not.toBe(toHex(k));
  });

  it("the writer refuses a key commitment that is not its key's", async () => {
    const path = join(await tempDir("provmark-dawn-"), "dawn.log");
    const e = await fails(openDawnLogWriter(path, seed, { ...meta, keyCommitment: "00".repeat(32) }));
    expect(e.code).toBe("DAWN_LOG_WRONG_KEY");
  });

  it("refuses a record that is not an altered answer of the log's model", async () => {
    const path = join(await tempDir("provmark-dawn-"), "dawn.log");
    const w = await openDawnLogWriter(path, seed, meta);
    await expect(w.append({ ...rec(1), modelLabel: 1 })).rejects.toThrow(/altered answer/);
    await expect(w.append({ ...rec(1), classes: 10 })).rejects.toThrow(/altered answer/);
    await expect(w.append({ ...rec(1), input: new Float32Array(5), shape: [5] })).rejects.toThrow(/5 values/);
    // A refused append does not stop the queue: the next one is record 0.
    await w.append(rec(2));
    await w.close();
    expect((await readDawnLog(path, seed)).records.map((r) => [r.seq, r.servedLabel])).toEqual([[0, 2]]);
  });

  it("refuses to append for another model or rate", async () => {
    const path = await writeLog(1);
    const e = await fails(openDawnLogWriter(path, seed, { ...meta, rate: 0.2 }));
    expect(e.code).toBe("DAWN_LOG_INVALID");
  });
});
