import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redactRpcUrl, redactUrlsIn } from "../../src/ledger/redact-rpc-url.js";
import { provmark } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";

const INFURA_KEY = "9aa3d95b3bc440fa88ea12eaa4456161";
const ALCHEMY_KEY = "docsDemoKeyXy3bD9qLm0Zt";
const QUERY_KEY = "qk-7f3e2d1c0b9a";
const USER_PASS = "s3cretpass";

describe("redactRpcUrl", () => {
  it.each([
    [`https://mainnet.infura.io/v3/${INFURA_KEY}`, "https://mainnet.infura.io/v3/[redacted]"],
    [`https://eth-mainnet.g.alchemy.com/v2/${ALCHEMY_KEY}`, "https://eth-mainnet.g.alchemy.com/v2/[redacted]"],
    [`https://rpc.ankr.com/eth/${INFURA_KEY}${INFURA_KEY}`, "https://rpc.ankr.com/eth/[redacted]"],
    [`https://node.example/rpc?apikey=${QUERY_KEY}&x=1`, "https://node.example/rpc?[redacted]"],
    [`https://user:${USER_PASS}@node.example:8545/`, "https://node.example:8545"],
    ["http://127.0.0.1:8545", "http://127.0.0.1:8545"],
    ["https://arbitrum-sepolia.example/arbitrum-sepolia", "https://arbitrum-sepolia.example/arbitrum-sepolia"],
  ])("%s → %s", (url, shown) => {
    expect(redactRpcUrl(url)).toBe(shown);
  });

  it("redacts every URL inside an error text", () => {
    const text = `server response 500 (request={ }, info={ "requestUrl": "https://mainnet.infura.io/v3/${INFURA_KEY}" })`;
    expect(redactUrlsIn(text)).not.toContain(INFURA_KEY);
    expect(redactUrlsIn(text)).toContain("https://mainnet.infura.io/v3/[redacted]");
  });
});

// A loopback "provider" at a keyed path: it answers eth_chainId (so provmark gets past its probe)
// and HTTP 500 to everything else, so the error travels through ethers.
let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const calls = JSON.parse(body);
      const one = Array.isArray(calls) ? calls[0] : calls;
      if (one?.method === "eth_chainId" && !Array.isArray(calls)) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ jsonrpc: "2.0", id: one.id, result: "0x7a69" }));
        return;
      }
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(`internal error at ${req.url}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://user:${USER_PASS}@127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const secrets = [INFURA_KEY, QUERY_KEY, USER_PASS];
const keyed = () => `${base}/v3/${INFURA_KEY}?apikey=${QUERY_KEY}`;

describe("RPC URL keys stay out of errors and --json output", () => {
  it("an unreachable endpoint's error names the host, not the keys", async () => {
    const url = `http://user:${USER_PASS}@127.0.0.1:9/v3/${INFURA_KEY}?apikey=${QUERY_KEY}`;
    const r = await provmark(["history", "toy", "--rpc", url, "--json"], { env: { PROVMARK_HOME: await tempDir() } });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error.code).toBe("CHAIN_UNREACHABLE");
    for (const s of secrets) expect(r.stdout + r.stderr).not.toContain(s);
    expect(r.stdout).toContain("127.0.0.1:9/v3/[redacted]");
  });

  it("an endpoint failing inside ethers (which quotes the URL, and a body echoing the key): keys kept out", async () => {
    const registry = `0x${"12".repeat(20)}`;
    const url = keyed().replace(`user:${USER_PASS}@`, "");
    for (const json of [true, false]) {
      const r = await provmark(["history", "toy", "--rpc", url, "--registry", registry, ...(json ? ["--json"] : [])], {
        env: { PROVMARK_HOME: await tempDir() },
      });
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stdout + r.stderr).toMatch(/CHAIN_RPC_ERROR/);
      expect(r.stdout + r.stderr).toContain("internal error at"); // the server's body is shown…
      for (const s of secrets) expect(r.stdout + r.stderr).not.toContain(s); // …without the key
    }
  });

  it("doctor shows the configured RPC URL redacted, in text and --json", async () => {
    const env = { PROVMARK_HOME: await tempDir(), PROVMARK_RPC_URL: keyed() };
    const json = await provmark(["doctor", "--json"], { env });
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout).chain.rpcUrl).toMatch(/\/v3\/\[redacted\]\?\[redacted\]$/);
    const text = await provmark(["doctor"], { env });
    for (const s of secrets) expect(json.stdout + text.stdout + text.stderr).not.toContain(s);
  });
});
