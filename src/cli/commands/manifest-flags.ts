import { ProvmarkError } from "../../errors.js";
import type { ManifestInput } from "../../release/build-manifest.js";

/** The manifest flags shared by `register` and `manifest`. */
export interface ManifestFlags {
  model: string;
  cert?: string;
  parent?: string;
  name?: string;
  version?: string;
  license?: string;
  trainingData?: string[];
  description?: string;
  meta?: string[];
}

export function manifestInput(flags: ManifestFlags): ManifestInput {
  return {
    model: flags.model,
    cert: flags.cert,
    parent: flags.parent,
    name: flags.name,
    version: flags.version,
    license: flags.license,
    trainingData: flags.trainingData,
    description: flags.description,
    extra: parseMeta(flags.meta ?? []),
  };
}

function parseMeta(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf("=");
    if (i < 1)
      throw new ProvmarkError("USAGE", `--meta takes key=value, got ${JSON.stringify(p)}`, { subject: "--meta" });
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}
