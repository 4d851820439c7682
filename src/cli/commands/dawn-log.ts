import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";

/** `provmark dawn-log show <log> --key <file>`: the log's header and record counts per client (never the key). */
export async function dawnLogShow(
  path: string,
  flags: { key: string; client?: string; json?: boolean },
  _globals: GlobalOptions,
): Promise<void> {
  const { ProvmarkError } = await import("../../errors.js");
  const { readKeyFile } = await import("../../watermark/key-file.js");
  const { getPassphrase } = await import("../../watermark/passphrase.js");
  const { readDawnLog } = await import("../../guard/dawn-log.js");
  const key = await readKeyFile(flags.key, await getPassphrase());
  const log = await readDawnLog(path, key.seed);
  const counts = new Map<string, { records: number; inputs: Set<string>; first: string; last: string }>();
  for (const r of log.records) {
    const c = counts.get(r.client) ?? { records: 0, inputs: new Set<string>(), first: r.time, last: r.time };
    c.records++;
    c.inputs.add(r.inputSha256);
    c.last = r.time;
    counts.set(r.client, c);
  }
  if (flags.client !== undefined && !counts.has(flags.client)) {
    throw new ProvmarkError("USAGE", `the DAWN log has no records of client ${JSON.stringify(flags.client)}`, {
      subject: "--client",
      hints: [`Clients in the log: ${[...counts.keys()].slice(0, 10).join(", ") || "none"}`],
    });
  }
  const clients = [...counts]
    .filter(([id]) => flags.client === undefined || id === flags.client)
    .map(([client, c]) => ({
      client,
      records: c.records,
      distinctInputs: c.inputs.size,
      first: c.first,
      last: c.last,
    }));
  const io = log.meta.modelIO;
  emit(
    {
      path,
      sha256: log.sha256,
      createdAt: log.meta.createdAt,
      rate: log.meta.rate,
      keyCommitment: log.meta.keyCommitment,
      classes: io.classes.count,
      input:
        io.input.kind === "image"
          ? `${io.input.height}×${io.input.width}×${io.input.channels}`
          : `${io.input.features} features`,
      records: log.records.length,
      clients,
      warnings: log.warnings,
    },
    flags,
    (o) =>
      [
        `DAWN log ${o.path}: ${o.records} altered answers, rate ${o.rate}, ${o.classes} classes, input ${o.input}`,
        `  created ${o.createdAt}; SHA-256 ${o.sha256}`,
        ...o.clients.map(
          (c) => `  ${c.client}: ${c.records} records (${c.distinctInputs} distinct inputs), ${c.first} → ${c.last}`,
        ),
        ...o.warnings.map((w) => `  warning: ${w}`),
      ].join("\n"),
  );
}
