import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join, normalize } from "node:path";

export interface StaticSite {
  url: string;
  close(): Promise<void>;
}

/**
 * A loopback static file server over `root`, as a thief's web host would serve a model; `route`
 * answers a request itself (redirects, stalls) by returning true.
 */
export async function staticSite(
  root: string,
  route: (req: IncomingMessage, res: ServerResponse) => boolean = () => false,
): Promise<StaticSite> {
  const server: Server = createServer(async (req, res) => {
    if (route(req, res)) return;
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    if (path.includes("..")) {
      res.writeHead(400).end();
      return;
    }
    const body = await readFile(join(root, path)).catch(() => null);
    if (body === null) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    const type = path.endsWith(".json") ? "application/json" : "application/octet-stream";
    res.writeHead(200, { "content-type": type, "content-length": body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
