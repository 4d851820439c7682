/**
 * Appends DAWN records until killed, for the crash test: node --import tsx dawn-log-child.ts <log> <seed hex>.
 * Prints "acked <seq>" after each append resolved (fsync'd), so the parent knows what must survive.
 */
import { toHex } from "../../src/core/digest/bytes.js";
import { legacyModelIO } from "../../src/core/input/model-io.js";
import { keyCommitment } from "../../src/core/keys/derive.js";
import { openDawnLogWriter } from "../../src/guard/dawn-log.js";

const [path, seedHex] = process.argv.slice(2);
const seed = Uint8Array.from(Buffer.from(seedHex as string, "hex"));
const io = legacyModelIO([8, 8, 1], 10);
const w = await openDawnLogWriter(path as string, seed, {
  modelIO: io,
  rate: 0.1,
  keyCommitment: toHex(keyCommitment(seed)),
});
for (let i = 0; ; i++) {
  // Several appends in flight at once, as a guard serving concurrent clients would issue them.
  await Promise.all(
    [0, 1, 2].map((k) =>
      w.append({
        client: `c${k}`,
        time: new Date().toISOString(),
        shape: [8, 8, 1],
        input: Float32Array.from({ length: 64 }, (_, j) => ((i + j + k) % 256) / 255),
        inputSha256: toHex(keyCommitment(Uint8Array.of(i, k))),
        servedLabel: (i + k) % 10,
        modelLabel: (i + k + 1) % 10,
        classes: 10,
      }),
    ),
  );
  process.stdout.write(`acked ${3 * i + 2}\n`);
}
