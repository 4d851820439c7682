import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import type { QueryInput } from "../../../src/detect/adapters/types.js";

/**
 * A fake suspect model behind node:http speaking TF Serving, KServe v2 or a custom JSON API. Its
 * "model" is deterministic: label = (sum of the input's pixels) mod classes, so tests know every
 * right answer. It counts hits per query id (queries are recognised by the SHA-256 of their pixels,
 * see `register`) and can misbehave per request.
 */

export type Shape = readonly [number, number, number];

export interface Prediction {
  id: string;
  label: number;
  probs: number[];
}

export interface RequestInfo {
  /** 1-based request number (POSTs only). */
  n: number;
  ids: string[];
  headers: IncomingHttpHeaders;
  body: string;
}

/** How to answer one request; undefined = answer correctly. */
export type Directive =
  | undefined
  | "hang"
  /** Promise 4 KiB, send the first bytes of the right answer, close the connection. */
  | "cut"
  | { status: number; text?: string | Buffer; headers?: Record<string, string> }
  | { json: (preds: Prediction[]) => unknown }
  | { text: (preds: Prediction[]) => string };

export interface FakeSuspectOptions {
  protocol: "tfserving" | "kserve" | "json";
  classes: number;
  shape: Shape;
  /** Misbehaviour per request. */
  behave?: (req: RequestInfo) => Directive;
  /** Delay before answering each POST, ms. */
  delayMs?: number;
  /** kserve: the input name it insists on (400 otherwise), announced by its metadata. */
  kserveInput?: string;
  /** kserve: the metadata declares a flat input [-1, h*w*c]. */
  kserveFlat?: boolean;
  /** json: how to find the instances (nested [h][w][c] or flat) in a request, and build the answer. */
  json?: {
    instances: (body: unknown) => unknown[];
    answer: (preds: Prediction[]) => unknown;
    scale?: "pixel/255" | "pixel";
  };
  /** Called on every POST, after counting its hits (before answering). */
  onRequest?: (req: RequestInfo) => void;
  /** Compress every JSON answer with this Content-Encoding (and send Date and Server headers). */
  encoding?: "gzip" | "br" | "deflate";
}

export function expectedLabel(pixels: Uint8Array, classes: number): number {
  let s = 0;
  for (const p of pixels) s += p;
  return s % classes;
}

export function predict(id: string, pixels: Uint8Array, classes: number): Prediction {
  const label = expectedLabel(pixels, classes);
  const probs = Array.from({ length: classes }, (_, i) => (i === label ? 0.7 : 0.3 / (classes - 1)));
  return { id, label, probs };
}

/** `n` deterministic queries q0…q{n-1} of `shape`. */
export function makeQueries(n: number, shape: Shape, seed = 1): QueryInput[] {
  const size = shape[0] * shape[1] * shape[2];
  return Array.from({ length: n }, (_, i) => {
    let x = (seed * 7919 + i * 104729) >>> 0;
    const pixels = new Uint8Array(size);
    for (let k = 0; k < size; k++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      pixels[k] = x >>> 24;
    }
    pixels[0] = i & 255;
    pixels[1] = (i >> 8) & 255;
    return { id: `q${i}`, pixels, shape };
  });
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

export class FakeSuspect {
  readonly url: string;
  readonly hits = new Map<string, number>();
  readonly requests: RequestInfo[] = [];
  /** GET requests (kserve metadata). */
  readonly gets: { url: string; headers: IncomingHttpHeaders }[] = [];
  /** Every JSON answer's body exactly as put on the wire (compressed when `encoding` is set). */
  readonly sent: Buffer[] = [];
  maxActive = 0;
  #active = 0;
  readonly #server: Server;
  readonly #o: FakeSuspectOptions;
  readonly #ids = new Map<string, string>();
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server, o: FakeSuspectOptions) {
    this.#server = server;
    this.#o = o;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on("connection", (s) => {
      this.#sockets.add(s);
      s.on("close", () => this.#sockets.delete(s));
    });
  }

  static async start(o: FakeSuspectOptions): Promise<FakeSuspect> {
    let self: FakeSuspect | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on(
        "end",
        () => void self?.handle(req.method ?? "", req.url ?? "", req.headers, Buffer.concat(chunks).toString(), res),
      );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    self = new FakeSuspect(server, o);
    return self;
  }

  /** Lets the server name the queries it receives. */
  register(queries: readonly QueryInput[]): this {
    for (const q of queries) this.#ids.set(sha(q.pixels), q.id);
    return this;
  }

  totalHits(): number {
    return [...this.hits.values()].reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  private async handle(method: string, url: string, headers: IncomingHttpHeaders, body: string, res: ServerResponse) {
    const o = this.#o;
    if (method === "GET") {
      this.gets.push({ url, headers });
      if (o.protocol === "kserve" && /^\/v2\/models\/m$/.test(url)) {
        const [h, w, c] = o.shape;
        return this.send(res, 200, o.encoding, {
          name: "m",
          platform: "fake",
          inputs: [
            {
              name: o.kserveInput ?? "input_1",
              datatype: "FP32",
              shape: o.kserveFlat ? [-1, h * w * c] : [-1, h, w, c],
            },
          ],
          outputs: [{ name: "probs", datatype: "FP32", shape: [-1, o.classes] }],
        });
      }
      return this.send(res, 404, o.encoding, { error: "not found" });
    }
    let instances: Uint8Array[];
    try {
      const parsed = this.instances(url, JSON.parse(body));
      if (typeof parsed === "string")
        return this.send(res, parsed.startsWith("404") ? 404 : 400, o.encoding, { error: parsed });
      instances = parsed;
    } catch (e) {
      return this.send(res, 400, o.encoding, { error: `bad request: ${(e as Error).message}` });
    }
    const ids = instances.map((px) => this.#ids.get(sha(px)) ?? "?");
    for (const id of ids) this.hits.set(id, (this.hits.get(id) ?? 0) + 1);
    const info: RequestInfo = { n: this.requests.length + 1, ids, headers, body };
    this.requests.push(info);
    o.onRequest?.(info);
    this.#active++;
    this.maxActive = Math.max(this.maxActive, this.#active);
    try {
      if (o.delayMs) await new Promise((r) => setTimeout(r, o.delayMs));
      const preds = instances.map((px, i) => predict(ids[i] as string, px, o.classes));
      const d = o.behave?.(info);
      if (d === "hang") return; // never answers; the client gives up
      if (d === "cut") {
        res.writeHead(200, { "content-type": "application/json", "content-length": "4096" });
        res.write(JSON.stringify(this.answer(preds)).slice(0, 20));
        setTimeout(() => res.socket?.destroy(), 10);
        return;
      }
      if (d === undefined) return this.send(res, 200, o.encoding, this.answer(preds));
      if ("status" in d) {
        res.writeHead(d.status, { "content-type": "application/json", ...d.headers });
        this.sent.push(Buffer.from(d.text ?? ""));
        return res.end(d.text ?? "");
      }
      if ("json" in d) return this.send(res, 200, o.encoding, d.json(preds));
      res.writeHead(200, { "content-type": "application/json" });
      const text = d.text(preds);
      this.sent.push(Buffer.from(text));
      res.end(text);
    } finally {
      this.#active--;
    }
  }

  private send(res: ServerResponse, status: number, encoding: FakeSuspectOptions["encoding"], value: unknown): void {
    const text = Buffer.from(JSON.stringify(value));
    const wire = encoding === undefined ? text : COMPRESS[encoding](text);
    this.sent.push(wire);
    res.writeHead(status, {
      "content-type": encoding === undefined ? "application/json" : "application/json; charset=utf-8",
      ...(encoding === undefined ? {} : { "content-encoding": encoding, server: FAKE_SERVER }),
    });
    res.end(wire);
  }

  private instances(url: string, body: unknown): Uint8Array[] | string {
    const o = this.#o;
    const [h, w, c] = o.shape;
    const size = h * w * c;
    const toPixels = (xs: unknown[], scale: "pixel/255" | "pixel" = "pixel/255") => {
      const flat = xs.flat(3) as number[];
      if (flat.length !== size) throw new Error(`instance of ${flat.length} values, expected ${size}`);
      return Uint8Array.from(flat, (v) => Math.round(scale === "pixel" ? v : v * 255));
    };
    if (o.protocol === "tfserving") {
      if (!/^\/v1\/models\/m(\/versions\/\d+)?:predict$/.test(url)) return `404 Servable not found for ${url}`;
      return ((body as { instances: unknown[][] }).instances ?? []).map((x) => toPixels(x));
    }
    if (o.protocol === "kserve") {
      if (url !== "/v2/models/m/infer") return `404 model not found for ${url}`;
      const input = (body as { inputs: { name: string; shape: number[]; data: number[] }[] }).inputs[0];
      if (input === undefined) return "no inputs";
      if (input.name !== (o.kserveInput ?? "input_1")) return `unexpected inference input '${input.name}'`;
      const n = input.shape[0] as number;
      return Array.from({ length: n }, (_, i) => toPixels(input.data.slice(i * size, (i + 1) * size)));
    }
    const json = o.json;
    if (json === undefined) throw new Error("json protocol needs the json option");
    return json.instances(body).map((x) => toPixels(Array.isArray(x) ? x : [x], json.scale));
  }

  private answer(preds: Prediction[]): unknown {
    const o = this.#o;
    if (o.protocol === "tfserving") return { predictions: preds.map((p) => p.probs) };
    if (o.protocol === "kserve") {
      return {
        model_name: "m",
        outputs: [
          { name: "probs", shape: [preds.length, o.classes], datatype: "FP32", data: preds.flatMap((p) => p.probs) },
        ],
      };
    }
    return o.json?.answer(preds);
  }
}

const COMPRESS = { gzip: gzipSync, br: brotliCompressSync, deflate: deflateSync };

/** The server's identity in the `Server` header of compressed answers, for tests that check it is recorded. */
export const FAKE_SERVER = "fake-suspect/1.0";

/** A sleep that records what it was asked to wait and returns at once. */
export function recordingSleep(): { sleep: (ms: number) => Promise<void>; waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    sleep: async (ms) => {
      waits.push(ms);
    },
  };
}

/** The suspect the crash test's child process queries. */
export const CHILD_SHAPE = [4, 4, 1] as const;
export const CHILD_CLASSES = 5;
