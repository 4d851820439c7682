import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpRpcClient } from "../../src/ledger/embedded/rpc-client.js";
import { provmark } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";

// A JSON-RPC endpoint is third-party input: a body that is JSON but not a JSON-RPC response object
// must be CHAIN_RPC_ERROR naming the endpoint, never a crash.
let server: Server;
let url: string;
/** What the endpoint answers to eth_chainId, and to every other call. */
let answer = { chainId: "null", other: "null" };

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const call = JSON.parse(body);
      const chainId = !Array.isArray(call) && call.method === "eth_chainId";
      res.writeHead(200, { "content-type": "application/json" });
      res.end(chainId ? answer.chainId : answer.other);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const BODIES = ["null", "5", '"0x7a69"', "true", "[]", '{"error":null}'];

describe("JSON-RPC bodies of unexpected shapes", () => {
  it.each(BODIES)("the provmark chain client: %s → CHAIN_RPC_ERROR", async (body) => {
    answer = { chainId: body, other: body };
    await expect(new HttpRpcClient(url).request({ method: "eth_chainId" })).rejects.toMatchObject({
      code: "CHAIN_RPC_ERROR",
      message: expect.stringContaining(url),
    });
  });

  it("the provmark chain client passes a null result through (receipts of unknown transactions are null)", async () => {
    answer = { chainId: '{"jsonrpc":"2.0","id":1,"result":null}', other: "" };
    expect(await new HttpRpcClient(url).request({ method: "eth_chainId" })).toBeNull();
  });

  it.each([...BODIES, '{"result":null}'])(
    "the chain id probe of --rpc: %s → CHAIN_RPC_ERROR (exit 2)",
    async (body) => {
      answer = { chainId: body, other: body };
      const r = await provmark(["history", "toy", "--rpc", url, "--json"], { env: { PROVMARK_HOME: await tempDir() } });
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(JSON.parse(r.stdout).error).toMatchObject({ code: "CHAIN_RPC_ERROR", subject: url });
    },
  );

  it.each(["null", "5", "[]"])("calls through ethers after a good probe: %s → a coded chain error", async (body) => {
    answer = { chainId: '{"jsonrpc":"2.0","id":1,"result":"0x7a69"}', other: body };
    const r = await provmark(["history", "toy", "--rpc", url, "--registry", `0x${"12".repeat(20)}`, "--json"], {
      env: { PROVMARK_HOME: await tempDir() },
    });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(JSON.parse(r.stdout).error.code).toMatch(/^CHAIN_(RPC_ERROR|UNREACHABLE)$/);
  });
});
