import { hashModel } from "../../model/hash-model.js";
import { emit, formatBytes } from "../output.js";
import { progressBar } from "../progress.js";

export async function hash(path: string, opts: { json?: boolean; filesOnly?: boolean }): Promise<void> {
  let bar: ReturnType<typeof progressBar> | undefined;
  const result = await hashModel(path, {
    ...(opts.filesOnly ? { filesOnly: true } : {}),
    onProgress: (done, total) => {
      bar ??= progressBar(total, { ...opts, format: "hashing {bar} {percentage}% | ETA {eta_formatted}" });
      bar.update(done);
    },
  });
  bar?.stop();
  emit({ path, ...result }, opts, (r) =>
    [
      `format:         ${r.format ?? "(files only)"}`,
      `files digest:   ${r.filesDigest}`,
      `weights digest: ${r.weightsDigest ?? "(not computed: --files-only)"}`,
      `files:          ${r.files.length} (${formatBytes(r.totalBytes)})${r.format ? `, ${r.weightCount} weights` : ""}`,
      ...r.files.map((f) => `  ${f.sha256}  ${String(f.size).padStart(12)}  ${f.path}`),
    ].join("\n"),
  );
}
