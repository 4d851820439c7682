import { connect, createServer, type Server, type Socket } from "node:net";

export interface RawResult {
  /** Everything the server sent. */
  data: string;
  /** When the server closed the connection, ms after connecting. */
  closedAfterMs: number;
  /** Bytes the client had written by then. */
  written: number;
}

/**
 * Opens a TCP connection to 127.0.0.1:port, writes `head` at once, then `drip` one byte every
 * `everyMs` (a slowloris client), until the server closes the connection or `giveUpMs` passes.
 */
export function slowClient(
  port: number,
  o: { head: string; drip?: string; everyMs?: number; giveUpMs: number },
): Promise<RawResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(port, "127.0.0.1");
    let data = "";
    let written = 0;
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ data, closedAfterMs: performance.now() - started, written });
    };
    const giveUp = setTimeout(() => {
      socket.destroy();
    }, o.giveUpMs);
    socket.setEncoding("utf8");
    socket.on("data", (d) => (data += d));
    socket.on("error", () => {});
    socket.on("close", done);
    socket.on("connect", () => {
      socket.write(o.head);
      written += Buffer.byteLength(o.head);
      const drip = o.drip ?? "";
      if (drip === "") return;
      timer = setInterval(() => {
        if (socket.destroyed || socket.writableEnded) return;
        socket.write(drip[i % drip.length] as string);
        written++;
        i++;
      }, o.everyMs ?? 1000);
    });
  });
}

/** Streams a chunked body of 64 KiB chunks until the server answers or closes. */
export function chunkedFlood(port: number, path: string, headers: string, limitBytes: number): Promise<RawResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(port, "127.0.0.1");
    let data = "";
    let written = 0;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]);
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      socket.destroy();
      resolve({ data, closedAfterMs: performance.now() - started, written });
    };
    socket.setEncoding("utf8");
    socket.on("data", (d) => {
      data += d;
      if (data.includes("\r\n\r\n")) setTimeout(finish, 50);
    });
    socket.on("error", finish);
    socket.on("close", finish);
    socket.on("connect", () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n${headers}\r\n`,
      );
      const pump = () => {
        while (!finished && data === "" && written < limitBytes) {
          written += frame.length;
          if (!socket.write(frame)) {
            socket.once("drain", pump);
            return;
          }
        }
      };
      pump();
    });
  });
}

/** Opens `n` connections and keeps them open (no request); resolves once all are connected. */
export function openIdle(port: number, n: number): Promise<Socket[]> {
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect(port, "127.0.0.1", () => resolve(s));
          s.on("error", reject);
        }),
    ),
  );
}

/** A TCP server that accepts connections and never answers (an upstream that hangs). */
export async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
