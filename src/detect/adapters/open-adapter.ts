import { resolve } from "node:path";
import type { ImageInput } from "../../core/input/model-io.js";
import { ProvmarkError } from "../../errors.js";
import type { BackendChoice } from "../../model/backend.js";
import { displayTarget, parseEndpoint } from "./endpoint.js";
import { addHeader } from "./headers.js";
import { JsonApiAdapter } from "./json.js";
import { isImagePlaceholder, loadJsonApiConfig, placeholders } from "./json-config.js";
import { KServeAdapter, kserveUrls } from "./kserve.js";
import { RawImageAdapter } from "./raw.js";
import { TfServingAdapter, tfServingUrl } from "./tfserving.js";
import { type SuspectAdapter, type SuspectProtocol, WIRE_ENCODINGS, type WireEncoding } from "./types.js";
import { imageCodec, type WireCodec } from "./wire.js";

export const PROTOCOLS: readonly SuspectProtocol[] = ["tfserving", "kserve", "json", "raw", "local"];

export interface OpenAdapterOptions {
  /** `--protocol`. */
  protocol: string;
  /** `--endpoint`: the server's base URL (or a full predict/infer URL); for "local", the model directory. */
  endpoint?: string | undefined;
  /** `--model-name` (tfserving, kserve). */
  modelName?: string | undefined;
  /** `--model-version` (tfserving, kserve): a version number. */
  modelVersion?: string | undefined;
  /** `--config` (json): the API description file. */
  configPath?: string | undefined;
  /** From `parseHeaders`; for json they override the config's headers of the same name. */
  headers: Readonly<Record<string, string>>;
  classes: number;
  /** The certificate's class names in class order (raw answers name classes). */
  classNames?: readonly string[] | undefined;
  inputShape: readonly [number, number, number];
  /**
   * `--encoding`: `tensor` (default) sends the model's numbers; `png` / `jpeg` send encoded images
   * (tfserving `{"b64"}`, kserve BYTES, json `$INPUT_B64`, raw bodies). Raw defaults to png.
   */
  encoding?: string | undefined;
  /** The certificate's image input: queries are sent through its channel order and preprocessing. */
  input?: ImageInput | undefined;
  /** Per request (the runner adds its own too). */
  timeoutMs: number;
  /** kserve: the input tensor's name; without it the model's metadata is asked (default "input_1"). */
  inputName?: string | undefined;
  /** kserve: which output to read when there are several. */
  outputName?: string | undefined;
  /** tfserving, kserve, local: instances per request. */
  maxBatch?: number | undefined;
  /** local: the TF.js backend. */
  backend?: BackendChoice | undefined;
  /** json: where `env:VAR` header values are read (default process.env). */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  now?: (() => number) | undefined;
}

const usage = (subject: string, message: string, hints: string[] = []) =>
  new ProvmarkError("USAGE", message, { subject, hints });

/**
 * Builds the adapter for a suspect from command-line options, validating them (USAGE errors name
 * the flag). Opening may touch the suspect: kserve asks for the model's metadata, local loads it.
 *
 * @example
 * const adapter = await openAdapter({ protocol: "tfserving", endpoint: "http://10.0.0.5:8501", modelName: "mnist",
 *   headers: parseHeaders(["Authorization: env:SUSPECT_AUTH"]), classes: 10, inputShape: [28, 28, 1], timeoutMs: 30_000 });
 */
export async function openAdapter(o: OpenAdapterOptions): Promise<SuspectAdapter> {
  if (!PROTOCOLS.includes(o.protocol as SuspectProtocol)) {
    throw usage("--protocol", `unknown suspect protocol ${JSON.stringify(o.protocol)}`, [
      `Choose one of ${PROTOCOLS.join(", ")}.`,
    ]);
  }
  if (!Number.isInteger(o.timeoutMs) || o.timeoutMs <= 0)
    throw usage("--timeout", "the timeout must be a positive number of ms");
  if (o.maxBatch !== undefined && (!Number.isInteger(o.maxBatch) || o.maxBatch < 1)) {
    throw usage("--batch-size", "the batch size must be a positive integer");
  }
  const shape = o.inputShape;
  if (
    shape.length !== 3 ||
    !shape.every((d) => Number.isInteger(d) && d > 0) ||
    !Number.isInteger(o.classes) ||
    o.classes < 2
  ) {
    throw new RangeError(`bad input shape [${shape.join(",")}] or class count ${o.classes}`);
  }
  const encoding = wireEncoding(o);
  const common = {
    headers: o.headers,
    classes: o.classes,
    inputShape: shape,
    timeoutMs: o.timeoutMs,
    ...(o.input === undefined ? {} : { codec: imageCodec(o.input), input: o.input }),
    ...(o.maxBatch === undefined ? {} : { maxBatch: o.maxBatch }),
    ...(o.now === undefined ? {} : { now: o.now }),
    encoding,
  };
  const protocol = o.protocol as SuspectProtocol;
  if (protocol === "local") {
    if (encoding !== "tensor") throw usage("--encoding", "--protocol local runs the model on tensors: drop --encoding");
    if (o.endpoint === undefined || o.endpoint === "")
      throw usage("--endpoint", "--endpoint must name the model directory");
    const { LocalModelAdapter } = await import("./local.js");
    return LocalModelAdapter.open({
      path: resolve(o.endpoint),
      classes: o.classes,
      inputShape: shape,
      ...(o.input === undefined ? {} : { input: o.input }),
      ...(o.backend === undefined ? {} : { backend: o.backend }),
      ...(o.maxBatch === undefined ? {} : { maxBatch: o.maxBatch }),
    });
  }
  if (protocol === "json") return openJson(o, common);
  if (protocol === "raw") return openRaw(o, common);
  if (o.endpoint === undefined || o.endpoint === "") {
    throw usage("--endpoint", `--endpoint is required for --protocol ${protocol}`, [
      protocol === "tfserving"
        ? "TF Serving's REST port, e.g. http://host:8501"
        : "The server's base URL, e.g. http://host:8080",
    ]);
  }
  const base = parseEndpoint(o.endpoint, "--endpoint");
  const name = o.modelName;
  if (name !== undefined && !/^[\w.@+-]+$/.test(name)) {
    throw usage("--model-name", `${JSON.stringify(name)} is not a model name (letters, digits, _ . - @ +)`);
  }
  if (o.modelVersion !== undefined && !/^\d+$/.test(o.modelVersion)) {
    throw usage("--model-version", "--model-version must be a version number");
  }
  const full = protocol === "tfserving" ? /\/v1\/models\/.+:predict$/ : /\/v2\/models\/.+\/infer\/?$/;
  if (name === undefined && !full.test(base.pathname)) {
    throw usage("--model-name", `--model-name is required for --protocol ${protocol}`, [
      "Or give the full predict/infer URL as --endpoint.",
    ]);
  }
  if (protocol === "tfserving") {
    const url = tfServingUrl(base, name, o.modelVersion);
    return new TfServingAdapter({ ...common, url, target: displayTarget(new URL(url)) });
  }
  const urls = kserveUrls(base, name, o.modelVersion);
  return KServeAdapter.open({
    ...common,
    ...urls,
    target: displayTarget(new URL(urls.url)),
    ...(o.inputName === undefined ? {} : { inputName: o.inputName }),
    ...(o.outputName === undefined ? {} : { outputName: o.outputName }),
  });
}

async function openJson(
  o: OpenAdapterOptions,
  common: {
    headers: Readonly<Record<string, string>>;
    classes: number;
    inputShape: readonly [number, number, number];
    codec?: WireCodec;
    encoding: WireEncoding;
    timeoutMs: number;
    now?: () => number;
  },
): Promise<SuspectAdapter> {
  if (o.configPath === undefined || o.configPath === "") {
    throw usage("--config", "--config is required for --protocol json", [
      "See docs/detect-protocols.md for the file format.",
    ]);
  }
  const path = o.configPath;
  const config = await loadJsonApiConfig(path);
  const names = config.response.classNames;
  if (names !== undefined && names.length !== o.classes) {
    throw usage(path, `${path}: response.classNames lists ${names.length} classes, the model has ${o.classes}`);
  }
  const slot = placeholders(config.request)[0]?.placeholder ?? "";
  if (isImagePlaceholder(slot) !== (common.encoding !== "tensor")) {
    throw usage(
      "--encoding",
      isImagePlaceholder(slot)
        ? `${path} asks for ${slot} (an encoded image): pass --encoding png (or jpeg)`
        : `${path} asks for ${slot} (the model's numbers); --encoding ${common.encoding} needs a $INPUT_B64 or $INPUTS_B64 placeholder`,
    );
  }
  const rawUrl = o.endpoint ?? config.url;
  if (rawUrl === undefined || rawUrl === "") throw usage("--endpoint", `give --endpoint, or "url" in ${path}`);
  const url = parseEndpoint(rawUrl, o.endpoint === undefined ? `${path}: url` : "--endpoint");
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(config.headers)) {
    if (Object.keys(o.headers).some((k) => k.toLowerCase() === name.toLowerCase())) continue;
    addHeader(headers, name, value, o.env ?? process.env, `${path}: headers`);
  }
  return new JsonApiAdapter({
    ...common,
    config,
    url: url.toString(),
    target: displayTarget(url),
    headers: { ...headers, ...o.headers },
  });
}

/** `--encoding` checked; raw endpoints take image files, so theirs defaults to png. */
function wireEncoding(o: OpenAdapterOptions): WireEncoding {
  const e = o.encoding ?? (o.protocol === "raw" ? "png" : "tensor");
  if (!WIRE_ENCODINGS.includes(e as WireEncoding)) {
    throw usage("--encoding", `unknown encoding ${JSON.stringify(e)}`, [`Choose one of ${WIRE_ENCODINGS.join(", ")}.`]);
  }
  if (o.protocol === "raw" && e === "tensor") {
    throw usage("--encoding", "--protocol raw sends image files: use --encoding png (or jpeg)");
  }
  return e as WireEncoding;
}

function openRaw(
  o: OpenAdapterOptions,
  common: { headers: Readonly<Record<string, string>>; encoding: WireEncoding; timeoutMs: number; now?: () => number },
): SuspectAdapter {
  if (o.endpoint === undefined || o.endpoint === "") {
    throw usage("--endpoint", "--endpoint is required for --protocol raw", [
      "The URL images are POSTed to, e.g. https://host/models/my-model",
    ]);
  }
  const names = o.classNames;
  if (names === undefined || names.length !== o.classes) {
    throw usage("--protocol", "--protocol raw reads answers by class name, and the certificate names no classes", [
      'Raw endpoints answer labels such as "cat": the certificate must carry the model\'s class names (v2, from',
      "metadata.json or --class-names at keygen). Otherwise describe the API with --protocol json and classNames.",
    ]);
  }
  const url = parseEndpoint(o.endpoint, "--endpoint");
  return new RawImageAdapter({
    url: url.toString(),
    target: displayTarget(url),
    headers: common.headers,
    classNames: names,
    inputShape: o.inputShape,
    format: common.encoding === "jpeg" ? "jpeg" : "png",
    timeoutMs: common.timeoutMs,
    ...(common.now === undefined ? {} : { now: common.now }),
  });
}
