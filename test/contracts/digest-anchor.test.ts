import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let conn: NetworkConnection;
beforeAll(async () => {
  conn = await network.create();
});
afterAll(async () => {
  await conn.close();
});

const digest = `0x${"ab".repeat(32)}`;

describe("DigestAnchor (in-process Hardhat network)", () => {
  it("records who anchored a digest and when, and emits Anchored", async () => {
    const [alice] = await conn.ethers.getSigners();
    const c = await conn.ethers.deployContract("DigestAnchor");
    const receipt = await (await c.getFunction("anchor")(digest)).wait();
    const block = await conn.ethers.provider.getBlock(receipt?.blockNumber ?? 0);
    const [who, ts] = await c.getFunction("anchorOf")(digest);
    expect(who).toBe(await alice?.getAddress());
    expect(ts).toBe(BigInt(block?.timestamp ?? -1));
    const log = c.interface.parseLog(receipt?.logs[0] ?? { topics: [], data: "0x" });
    expect(log?.name).toBe("Anchored");
    expect(log?.args.digest).toBe(digest);
  });

  it("refuses to anchor a digest twice, naming the first anchoring time", async () => {
    const c = await conn.ethers.deployContract("DigestAnchor");
    await (await c.getFunction("anchor")(digest)).wait();
    const [, ts] = await c.getFunction("anchorOf")(digest);
    const [, mallory] = await conn.ethers.getSigners();
    const err = await (c.connect(mallory ?? null) as typeof c)
      .getFunction("anchor")(digest)
      .then(
        () => undefined,
        (e: unknown) => e as { data?: string },
      );
    expect(err?.data).toBeDefined();
    const decoded = c.interface.parseError(err?.data ?? "0x");
    expect(decoded?.name).toBe("AlreadyAnchored");
    expect(decoded?.args[1]).toBe(ts);
  });

  it("rejects the zero digest", async () => {
    const c = await conn.ethers.deployContract("DigestAnchor");
    const never = await c.getFunction("anchorOf")(`0x${"00".repeat(32)}`);
    expect(never[1]).toBe(0n);
    await expect(c.getFunction("anchor")(`0x${"00".repeat(32)}`)).rejects.toThrow(/ZeroDigest/);
  });
});
