import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { toHex } from "../../src/core/digest/bytes.js";
import { legacyModelIO } from "../../src/core/input/model-io.js";
import { keyCommitment } from "../../src/core/keys/derive.js";
import { openDawnLogWriter, readDawnLog } from "../../src/guard/dawn-log.js";
import { tempDir } from "../helpers/fixtures.js";

const CHILD = fileURLToPath(new URL("./dawn-log-child.ts", import.meta.url));

/** Starts the appending child, kills it (SIGKILL) once `after` records are acknowledged; the last acked seq. */
function appendThenKill(path: string, seed: Uint8Array, after: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, path, toHex(seed)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let acked = -1;
    let buf = "";
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      const lines = buf.split("\n");
      buf = lines.pop() as string;
      for (const l of lines) acked = Math.max(acked, Number(l.replace("acked ", "")));
      if (acked >= after) child.kill("SIGKILL");
    });
    child.on("error", reject);
    child.on("close", () => resolve(acked));
  });
}

describe("DAWN log after kill -9", () => {
  it("keeps every acknowledged record; a torn tail is only warned about, and appending resumes", async () => {
    const seed = randomBytes(32);
    const path = join(await tempDir("provmark-dawn-crash-"), "dawn.log");
    const acked = await appendThenKill(path, seed, 60);
    expect(acked).toBeGreaterThanOrEqual(60);
    const log = await readDawnLog(path, seed);
    expect(log.records.length).toBeGreaterThanOrEqual(acked + 1);
    expect(log.records.map((r) => r.seq)).toEqual(log.records.map((_, i) => i));
    const second = await appendThenKill(path, seed, 30);
    expect(second).toBeGreaterThanOrEqual(30);
    const again = await readDawnLog(path, seed);
    expect(again.records.length).toBeGreaterThan(log.records.length + 30);
    expect(again.records.map((r) => r.seq)).toEqual(again.records.map((_, i) => i));
    const io = legacyModelIO([8, 8, 1], 10);
    const w = await openDawnLogWriter(path, seed, {
      modelIO: io,
      rate: 0.1,
      keyCommitment: toHex(keyCommitment(seed)),
    });
    await w.close();
    expect((await readDawnLog(path, seed)).warnings).toEqual([]);
  }, 120_000);
});
