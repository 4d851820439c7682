import { copyFile, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { SuspectDownload, WhiteBoxResult } from "../../core/detect/evidence.js";
import type { Certificate } from "../../core/watermark/certificate.js";
import type { WatermarkKey } from "../../core/watermark/params.js";
import { weightSecrets } from "../../core/watermark/weight-mark.js";
import { DEFAULT_MAX_DOWNLOAD_BYTES } from "./download-model.js";
import { prepareUrlSuspect } from "./url-suspect.js";
import { weightMarkTest } from "./weight-mark-test.js";

export interface FetchedSuspect {
  /** The model directory in the run directory. */
  dir: string;
  download: SuspectDownload;
  weightMark: WhiteBoxResult["weightMark"];
  /** v2: the weight mark's VRF proofs, for the reveal. */
  proofs: { projection: Uint8Array; message: Uint8Array } | null;
}

export interface FetchSuspectRequest {
  key: WatermarkKey;
  suspect: { endpoint: string; headers?: Record<string, string> };
  runDir: string;
  maxDownloadBytes?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  onStage?: (stage: string) => void;
}

/**
 * `--protocol url`: fetches the suspect model into the run directory and runs the white-box
 * weight-mark test on it, with the secrets as `verify` derives them (v2: bound by VRF proofs to the
 * certificate's carrier, so a carrier of another length cannot carry this mark).
 */
export async function fetchSuspect(r: FetchSuspectRequest, target: string, cert: Certificate): Promise<FetchedSuspect> {
  const { dir, download } = await prepareUrlSuspect({
    endpoint: r.suspect.endpoint,
    runDir: r.runDir,
    maxBytes: r.maxDownloadBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES,
    timeoutMs: r.timeoutMs ?? 30_000,
    headers: r.suspect.headers ?? {},
    signal: r.signal ?? new AbortController().signal,
    ...(r.onStage ? { onStage: r.onStage } : {}),
  });
  r.onStage?.(`reading the weight mark of the model fetched from ${target}`);
  const { layer, bits } = r.key.params;
  let proofs: FetchedSuspect["proofs"] = null;
  const weightMark = await weightMarkTest(dir, layer, bits, (m) => {
    if (cert.schema === "provmark/certificate/v2" && m !== cert.model.carrier.carrierLength) {
      return {
        unavailable: `the carrier holds ${m} values, the certificate's ${cert.model.carrier.carrierLength}: not the marked layer`,
      };
    }
    const s = weightSecrets(r.key, m);
    proofs = s.proofs;
    return s;
  });
  return { dir, download, weightMark, proofs };
}

/** Copies the fetched files into the report, so the evidence can be re-checked offline. */
export async function copySuspectModel(from: string, to: string): Promise<void> {
  await mkdir(to);
  for (const name of await readdir(from)) await copyFile(join(from, name), join(to, name));
}
