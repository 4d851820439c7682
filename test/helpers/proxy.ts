import { createServer, type Server, type ServerResponse } from "node:http";

/** A loopback proxy to `target`; `intercept` answers a request itself by returning true. */
export async function proxy(
  target: string,
  intercept: (res: ServerResponse) => boolean,
): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      if (intercept(res)) return;
      const r = await fetch(`${target}${req.url}`, {
        method: req.method ?? "POST",
        headers: { "content-type": "application/json" },
        body: Buffer.concat(chunks),
      });
      res.writeHead(r.status, { "content-type": r.headers.get("content-type") ?? "application/json" });
      res.end(Buffer.from(await r.arrayBuffer()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}
