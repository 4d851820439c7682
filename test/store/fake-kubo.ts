import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { unixfs } from "@helia/unixfs";
import { createHeliaLight } from "helia";
import { fixedSize } from "ipfs-unixfs-importer/chunker";
import { balanced } from "ipfs-unixfs-importer/layout";
import { CID } from "multiformats/cid";

/**
 * A stand-in for a Kubo daemon (none can run here): a real HTTP server on 127.0.0.1 answering the
 * RPC endpoints the adapter calls, as Kubo does, backed by an in-memory Helia node. `add` honours the
 * query options it is sent, with Kubo's defaults for those it is not, so the client's requests and
 * its parsing of the answers are exercised for real.
 */
export interface FakeKuboOptions {
  /** Behave like a daemon that ignores `cid-version` (it always builds CIDv0 roots). */
  ignoreCidVersion?: boolean;
  /** Answer this command (e.g. "add") with HTTP 500 and a Kubo-style JSON error carrying `message`. */
  fail?: { op: string; message: string };
  /** Flip one bit of every block served by block/get. */
  corruptBlocks?: boolean;
}

export interface FakeKubo {
  url: string;
  /** Every request URL, in order. */
  requests: URL[];
  close(): Promise<void>;
}

const KUBO_DEFAULT_CHUNK = 262_144;
const KUBO_DEFAULT_MAX_LINKS = 174;

class KuboError extends Error {}

export async function startFakeKubo(options: FakeKuboOptions = {}): Promise<FakeKubo> {
  const helia = await createHeliaLight().start();
  const fs = unixfs(helia);
  const requests: URL[] = [];
  const timers = new Set<NodeJS.Timeout>();

  async function body(req: IncomingMessage): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of req) parts.push(part as Buffer);
    return Buffer.concat(parts);
  }

  /** The first file part of a multipart/form-data body, as kubo-rpc-client sends one file. */
  function firstFile(req: IncomingMessage, raw: Buffer): Uint8Array {
    const boundary = /boundary=(.+)$/.exec(req.headers["content-type"] ?? "")?.[1];
    if (!boundary) throw new KuboError("expected multipart/form-data");
    const start = raw.indexOf(`--${boundary}\r\n`);
    const headersEnd = raw.indexOf("\r\n\r\n", start);
    const end = raw.indexOf(`\r\n--${boundary}`, headersEnd + 4);
    if (start < 0 || headersEnd < 0 || end < 0) throw new KuboError("malformed multipart body");
    return raw.subarray(headersEnd + 4, end);
  }

  async function add(q: URLSearchParams, content: Uint8Array): Promise<object> {
    const cidVersion = options.ignoreCidVersion ? 0 : Number(q.get("cid-version") ?? 0);
    if (cidVersion !== 0 && cidVersion !== 1) throw new KuboError(`unknown CID version ${cidVersion}`);
    const rawLeaves = q.has("raw-leaves") ? q.get("raw-leaves") === "true" : cidVersion === 1;
    const chunker = q.get("chunker") ?? `size-${KUBO_DEFAULT_CHUNK}`;
    const size = /^size-(\d+)$/.exec(chunker)?.[1];
    if (!size) throw new KuboError(`unrecognized chunker option: ${chunker}`);
    if ((q.get("hash") ?? "sha2-256") !== "sha2-256") throw new KuboError(`unsupported hash ${q.get("hash")}`);
    const cid = await fs.addBytes(content, {
      cidVersion,
      rawLeaves,
      leafType: "file",
      reduceSingleLeafToSelf: true,
      chunker: fixedSize({ chunkSize: Number(size) }),
      layout: balanced({ maxChildrenPerNode: Number(q.get("max-file-links") ?? KUBO_DEFAULT_MAX_LINKS) }),
    });
    if (q.get("pin") !== "false") {
      try {
        for await (const _ of helia.pins.add(cid)) {
          // walking pins the blocks
        }
      } catch (e) {
        if ((e as Error).name !== "AlreadyPinnedError") throw e;
      }
    }
    // Kubo's Size is the DAG's cumulative size; the adapter never reads it, so the content length will do
    return { Name: "", Hash: cid.toString(), Size: String(content.byteLength) };
  }

  async function blockBytes(cid: CID): Promise<Buffer> {
    const parts: Uint8Array[] = [];
    for await (const part of helia.blockstore.get(cid)) parts.push(part);
    return Buffer.concat(parts);
  }

  function sendError(res: ServerResponse, status: number, message: string): void {
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ Message: message, Code: 0, Type: "error" }));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    requests.push(url);
    const op = url.pathname.replace(/^\/api\/v0\//, "");
    const q = url.searchParams;
    if (req.method !== "POST") return sendError(res, 405, `${req.method} not allowed`);
    const raw = await body(req);
    if (options.fail?.op === op) return sendError(res, 500, options.fail.message);
    if (op === "version") {
      res.writeHead(200, { "Content-Type": "application/json" });
      return void res.end(JSON.stringify({ Version: "0.39.0", Commit: "fake", Repo: "17", System: "amd64/linux" }));
    }
    if (op === "add") {
      const line = await add(q, firstFile(req, raw));
      res.writeHead(200, { "Content-Type": "application/json", "X-Chunked-Output": "1" });
      return void res.end(`${JSON.stringify(line)}\n`);
    }
    if (op === "block/get" || op === "block/stat") {
      const cid = CID.parse(q.get("arg") ?? "");
      if (!(await helia.blockstore.has(cid))) {
        if (op === "block/stat" || q.get("offline") === "true") {
          return sendError(res, 500, `block was not found locally (offline): ipld: could not find ${cid}`);
        }
        // online, Kubo searches the network until its timeout, then says so
        const ms = Number(/^(\d+)ms$/.exec(q.get("timeout") ?? "")?.[1] ?? 0);
        if (ms > 0) {
          const t = setTimeout(() => {
            timers.delete(t);
            sendError(res, 500, "context deadline exceeded");
          }, ms);
          timers.add(t);
        }
        return;
      }
      const bytes = await blockBytes(cid);
      if (op === "block/stat") {
        res.writeHead(200, { "Content-Type": "application/json" });
        return void res.end(JSON.stringify({ Key: cid.toString(), Size: bytes.byteLength }));
      }
      const mid = bytes.byteLength >> 1;
      if (options.corruptBlocks && bytes.byteLength > 0) bytes[mid] = (bytes[mid] as number) ^ 0x10;
      res.writeHead(200, { "Content-Type": "text/plain" });
      return void res.end(bytes);
    }
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("404 page not found");
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => sendError(res, e instanceof KuboError ? 400 : 500, (e as Error).message));
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      await helia.stop();
    },
  };
}
