import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DownloadedFile } from "../../core/detect/evidence.js";
import { ProvmarkError } from "../../errors.js";
import { writeDirAtomic } from "../../model/atomic-write.js";
import { elementCount, type ModelJson, modelJsonSchema, storedBytesPerElement } from "../../model/manifest-schema.js";
import { displayTarget } from "../adapters/endpoint.js";
import { sha256Hex } from "../adapters/http-exchange.js";
import { type FetchedFile, fetchSameOrigin } from "./fetch-same-origin.js";

/** model.json holds the topology and manifest only: anything bigger is not a model file. */
export const MAX_MODEL_JSON_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024;

export interface DownloadRequest {
  /** The model.json URL. */
  url: URL;
  /** Where the model directory goes (written atomically, replacing an older download). */
  dir: string;
  /** Cap on all files together. */
  maxBytes: number;
  timeoutMs: number;
  headers: Readonly<Record<string, string>>;
  signal: AbortSignal;
}

// Flat names only: a manifest path must not reach outside the model directory, nor into subfolders
// the run directory's cleanup would have to walk.
const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/**
 * Fetches a LayersModel's model.json and every shard its weightsManifest names (resolved against
 * the URL that served model.json, after redirects, as browsers do) into `dir`, checking sizes against the manifest before and while fetching,
 * and returns each file's record as received. Nothing is written unless every file arrived whole.
 */
export async function downloadModel(r: DownloadRequest): Promise<DownloadedFile[]> {
  const common = { timeoutMs: r.timeoutMs, headers: r.headers, signal: r.signal };
  const shown = displayTarget(r.url);
  const jsonMax = Math.min(MAX_MODEL_JSON_BYTES, r.maxBytes);
  const first = await fetchSameOrigin(r.url, { ...common, maxBytes: jsonMax, what: "model.json" });
  const modelJson = parseModelJson(expectOk(first, "model.json"), shown);
  const files: { record: DownloadedFile; body: Uint8Array }[] = [
    { record: record("model.json", first), body: body(first) },
  ];
  const groups = modelJson.weightsManifest ?? [];
  const expected = groups.map((g) => g.weights.reduce((a, w) => a + elementCount(w.shape) * bytesPer(w, shown), 0));
  const total = (files[0]?.body.length ?? 0) + expected.reduce((a, b) => a + b, 0);
  if (total > r.maxBytes) {
    throw new ProvmarkError(
      "SUSPECT_URL_TOO_LARGE",
      `${shown} declares ${total} bytes of model files, more than the ${r.maxBytes} allowed`,
      {
        subject: shown,
        hints: ["Raise --max-download (bytes) if the model is really that large; nothing was fetched."],
      },
    );
  }
  for (const [gi, g] of groups.entries()) {
    let left = expected[gi] ?? 0;
    for (const path of g.paths) {
      const what = `weight shard ${path}`;
      const got = await fetchSameOrigin(new URL(path, first.url), { ...common, maxBytes: left, what }).catch((e) => {
        if (e instanceof ProvmarkError && e.code === "SUSPECT_URL_TOO_LARGE") throw oversized(gi, path, shown);
        throw e;
      });
      if (got.reply.status === 404 || got.reply.status === 410) {
        throw new ProvmarkError(
          "MODEL_SHARD_MISSING",
          `${what} listed in ${shown} is missing (HTTP ${got.reply.status} at ${got.url})`,
          {
            subject: got.url,
            hints: [
              "The site may have moved its shards: find the model.json the web app really loads (browser dev tools, Network tab).",
            ],
          },
        );
      }
      const bytes = expectOk(got, what);
      left -= bytes.length;
      files.push({ record: record(path, got), body: bytes });
    }
    if (left > 0) {
      throw new ProvmarkError(
        "MODEL_SHARD_TRUNCATED",
        `weights group ${gi} of ${shown} needs ${expected[gi]} bytes but its shards hold ${(expected[gi] ?? 0) - left}`,
        {
          subject: shown,
          hints: ["A shard came short (interrupted transfer, or shards of another model): run detect again."],
        },
      );
    }
  }
  await writeDirAtomic(
    r.dir,
    async (tmp) => {
      for (const f of files) await writeFile(join(tmp, f.record.name), f.body);
    },
    { overwrite: true },
  );
  return files.map((f) => f.record);
}

function parseModelJson(bytes: Uint8Array, shown: string): ModelJson {
  const notModel = (why: string) =>
    new ProvmarkError("SUSPECT_URL_NOT_MODEL", `${shown} is not a TF.js model.json: ${why}`, {
      subject: shown,
      hints: [
        "Give the URL of the model.json the web app loads (browser dev tools, Network tab, filter on model.json).",
      ],
    });
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw notModel(`not JSON (${(e as Error).message})`);
  }
  const parsed = modelJsonSchema.safeParse(json);
  if (!parsed.success || Array.isArray(json)) throw notModel("not a model.json object with a topology and manifest");
  const m = parsed.data;
  const topo = m.modelTopology;
  if (m.format === "graph-model" || (topo !== undefined && "node" in topo)) {
    throw new ProvmarkError(
      "SUSPECT_URL_GRAPH_MODEL",
      `${shown} is a TF.js GraphModel; the white-box test needs a LayersModel`,
      {
        subject: shown,
        hints: [
          "A GraphModel has no layers to read the weight mark from.",
          "The black-box protocols still apply: query the app's inference API with --protocol tfserving, kserve or json.",
        ],
      },
    );
  }
  if (topo === undefined || m.weightsManifest === undefined) throw notModel("no modelTopology or no weightsManifest");
  for (const g of m.weightsManifest) {
    for (const p of g.paths) {
      if (!SAFE_NAME.test(p) || p === "model.json") {
        throw notModel(`shard path ${JSON.stringify(p)} is not a plain file name beside model.json`);
      }
    }
  }
  return m;
}

function bytesPer(w: NonNullable<ModelJson["weightsManifest"]>[number]["weights"][number], shown: string): number {
  const n = storedBytesPerElement(w);
  if (n === undefined) {
    throw new ProvmarkError("MODEL_DTYPE_UNKNOWN", `${shown}: weight ${w.name} has an unsupported dtype`, {
      subject: shown,
    });
  }
  return n;
}

function expectOk(f: FetchedFile, what: string): Uint8Array {
  if (f.reply.status !== 200) {
    throw new ProvmarkError("SUSPECT_URL_HTTP_STATUS", `${what} at ${f.url}: HTTP ${f.reply.status}, expected 200`, {
      subject: f.url,
      hints: ["Check the URL in a browser; a site that needs a login cannot be fetched without --header."],
    });
  }
  return body(f);
}

function body(f: FetchedFile): Uint8Array {
  if (f.reply.body === null) {
    throw new ProvmarkError("SUSPECT_URL_NOT_MODEL", `${f.url}: ${f.reply.undecodable ?? "no body"}`, {
      subject: f.url,
    });
  }
  return f.reply.body;
}

function record(name: string, f: FetchedFile): DownloadedFile {
  const raw = f.reply.raw ?? new Uint8Array(0);
  const stored = body(f);
  return {
    name,
    url: f.url,
    redirectedFrom: f.redirectedFrom,
    status: f.reply.status ?? 0,
    startedAt: f.reply.startedAt,
    encoding: f.reply.response?.encoding ?? null,
    receivedSha256: sha256Hex(raw),
    receivedBytes: raw.length,
    sha256: sha256Hex(stored),
    bytes: stored.length,
  };
}

const oversized = (group: number, path: string, shown: string) =>
  new ProvmarkError(
    "MODEL_SHARD_OVERSIZED",
    `weight shard ${path} of ${shown} holds more bytes than weights group ${group} declares`,
    {
      subject: shown,
      hints: ["The shards do not match this model.json (a shard of another model?); nothing was kept."],
    },
  );
