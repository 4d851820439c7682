import cliProgress from "cli-progress";

export interface Progress {
  update(value: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

/**
 * A progress bar on stderr, only when stderr is a terminal and output is not JSON, so that CI logs
 * and piped JSON stay clean.
 */
export function progressBar(total: number, opts: { json?: boolean; format?: string; quiet?: boolean }): Progress {
  if (opts.json || opts.quiet || !process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: opts.format ?? "{bar} {percentage}% | {value}/{total} | ETA {eta_formatted}",
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    update: (value, payload) => bar.update(value, payload ?? {}),
    stop: () => bar.stop(),
  };
}
