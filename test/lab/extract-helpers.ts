import { createServer, type IncomingMessage, type Server } from "node:http";
import { join } from "node:path";
import { trainModel } from "../../src/model/train-model.js";
import { tempDir } from "../helpers/fixtures.js";

/** An MNIST MLP victim trained on provmark's training split (8,000 digits), 4 epochs, seeded. */
export async function trainVictim(): Promise<{ dir: string; testAccuracy: number }> {
  const dir = join(await tempDir("provmark-extract-"), "victim");
  const r = await trainModel({ dataset: "mnist", arch: "mlp", out: dir, seed: 5, epochs: 4, backend: "wasm" });
  return { dir, testAccuracy: r.testAccuracy };
}

export interface GateOptions {
  /** Requests without `Authorization: Bearer <token>` get 401. */
  token?: string;
  /** Every n-th request gets 429 with `Retry-After: retryAfter` (seconds). */
  limitEvery?: number;
  retryAfter?: number;
  /** After this many forwarded requests, every request gets 403 (a guard that blocked the client). */
  blockAfter?: number;
  /** Answers `{"labels": [3, …]}` (top-1 only) instead of the upstream's scores. */
  labelsOnly?: boolean;
}

export interface Gate {
  url: string;
  counts: { requests: number; unauthorized: number; limited: number; blocked: number; forwarded: number };
  /** When each 429 was sent and when the next request arrived after it. */
  limitedAt: number[];
  arrivals: number[];
  close(): Promise<void>;
}

const read = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });

/**
 * A stand-in for an owner's API gateway on 127.0.0.1 in front of a real model server: checks a
 * bearer key (401 as JSON), rate-limits (429 + Retry-After) and can strip scores to labels.
 */
export async function startGate(upstream: string, o: GateOptions = {}): Promise<Gate> {
  const counts = { requests: 0, unauthorized: 0, limited: 0, blocked: 0, forwarded: 0 };
  const limitedAt: number[] = [];
  const arrivals: number[] = [];
  const server: Server = createServer(async (req, res) => {
    const body = await read(req);
    counts.requests++;
    arrivals.push(Date.now());
    const json = (status: number, v: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(v));
    };
    if (o.token !== undefined && req.headers.authorization !== `Bearer ${o.token}`) {
      counts.unauthorized++;
      return json(401, { error: "missing or unknown API key" });
    }
    if (o.blockAfter !== undefined && counts.forwarded >= o.blockAfter) {
      counts.blocked++;
      return json(403, { error: "this key is blocked" });
    }
    if (o.limitEvery !== undefined && counts.requests % o.limitEvery === 0) {
      counts.limited++;
      limitedAt.push(Date.now());
      return json(429, { error: "rate limited" }, { "retry-after": String(o.retryAfter ?? 1) });
    }
    counts.forwarded++;
    const path = o.labelsOnly ? "/v1/models/victim:predict" : (req.url ?? "/");
    const r = await fetch(`${upstream}${path}`, {
      method: req.method ?? "POST",
      headers: { "content-type": "application/json" },
      ...(req.method === "GET" ? {} : { body }),
    });
    const text = await r.text();
    if (!o.labelsOnly || r.status !== 200) {
      res.writeHead(r.status, { "content-type": r.headers.get("content-type") ?? "application/json" });
      return res.end(text);
    }
    const rows = (JSON.parse(text) as { predictions: number[][] }).predictions;
    json(200, { labels: rows.map((row) => row.indexOf(Math.max(...row))) });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    limitedAt,
    arrivals,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
