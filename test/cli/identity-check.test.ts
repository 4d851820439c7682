import { join } from "node:path";
import { Wallet } from "ethers";
import { beforeAll, describe, expect, it } from "vitest";
import { isProvmarkError } from "../../src/errors.js";
import { DEV_ACCOUNT_KEYS } from "../../src/ledger/embedded/index.js";
import { modelIdOf } from "../../src/ledger/registry-client.js";
import { assertRegistered } from "../../src/release/check-model.js";
import { provmark } from "../helpers/cli.js";
import { tempDir, writeFakeModel } from "../helpers/fixtures.js";

// A check binds the files to WHO released them and UNDER WHICH NAME: anyone can register anything
// in their own namespace, including the owner's files and the owner's model name.
const owner = new Wallet(DEV_ACCOUNT_KEYS[7] as string);
const attacker = new Wallet(DEV_ACCOUNT_KEYS[8] as string);
let home: string;
let genuine: string;
let trojan: string;
let helper: string;
const env = (key?: string) => ({
  PROVMARK_RPC_URL: "",
  PROVMARK_IPFS_API: "",
  PROVMARK_OWNER: "",
  PROVMARK_REQUIRE_OWNER: "",
  ...(key ? { PROVMARK_PRIVATE_KEY: key } : {}),
});
const cli = (args: string[], e: Record<string, string> = env()) =>
  provmark(["--data-dir", home, ...args, "--json"], { env: e });
const register = async (key: string, dir: string, name: string) => {
  const r = await cli(["register", "--model", dir, "--name", name], env(key));
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};
const guard = { dataDir: "", rpcUrl: "" };

beforeAll(async () => {
  home = await tempDir();
  guard.dataDir = home;
  const models = await tempDir();
  genuine = join(models, "genuine");
  trojan = join(models, "trojan");
  helper = join(models, "helper");
  await writeFakeModel(genuine, [{ name: "d/kernel", shape: [6, 4], bytes: new Uint8Array(96).fill(1) }]);
  await writeFakeModel(trojan, [{ name: "d/kernel", shape: [6, 4], bytes: new Uint8Array(96).fill(66) }]);
  await writeFakeModel(helper, [{ name: "d/kernel", shape: [6, 4], bytes: new Uint8Array(96).fill(3) }]);
  await register(owner.privateKey, genuine, "classifier");
  await register(owner.privateKey, helper, "helper");
  // the attacker squats the owner's model name in its own namespace, with a trojan and a copy of the real files
  await register(attacker.privateKey, trojan, "classifier");
  await register(attacker.privateKey, genuine, "classifier");
});

describe("identity-bound checks: check --model --owner, assertRegistered({ owner, model, modelId })", () => {
  it("a trojan registered by an attacker under the owner's model name is refused (exit 5)", async () => {
    const r = await cli(["check", trojan, "--model", "classifier", "--owner", owner.address]);
    expect(r.code).toBe(5);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "unregistered", expectedModel: "classifier" });
    expect(JSON.parse(r.stdout).alsoRegisteredBy.map((x: { owner: string }) => x.owner)).toEqual([attacker.address]);
    expect((await cli(["check", trojan, "--owner", owner.address])).code).toBe(5);
    await expect(assertRegistered(trojan, { ...guard, owner: owner.address, model: "classifier" })).rejects.toSatisfy(
      (e) => isProvmarkError(e, "MODEL_UNREGISTERED"),
    );
    // why the owner matters: unchecked, the attacker's registration passes
    expect((await cli(["check", trojan])).code).toBe(0);
  });

  it("the attacker's copy of the owner's files does not stand in for the owner's release", async () => {
    const mine = await cli(["check", genuine, "--model", "classifier", "--owner", owner.address]);
    expect(mine.code, mine.stdout).toBe(0);
    expect(JSON.parse(mine.stdout)).toMatchObject({
      owner: owner.address,
      modelId: modelIdOf(owner.address, "classifier"),
    });
    // the attacker's namespace id, asked of the owner: not the owner's
    const theirs = modelIdOf(attacker.address, "classifier");
    expect((await cli(["check", genuine, "--owner", owner.address, "--model-id", theirs])).code).toBe(5);
    await expect(assertRegistered(genuine, { ...guard, owner: owner.address, modelId: theirs })).rejects.toSatisfy(
      (e) => isProvmarkError(e, "MODEL_UNREGISTERED"),
    );
    const rec = await assertRegistered(genuine, { ...guard, owner: owner.address, model: "classifier" });
    expect(rec).toMatchObject({ owner: owner.address, modelId: modelIdOf(owner.address, "classifier") });
  });

  it("files the owner released under another model name do not pass for this name", async () => {
    expect((await cli(["check", helper, "--model", "classifier", "--owner", owner.address])).code).toBe(5);
    expect((await cli(["check", helper, "--model", "helper", "--owner", owner.address])).code).toBe(0);
    await expect(assertRegistered(helper, { ...guard, owner: owner.address, model: "classifier" })).rejects.toSatisfy(
      (e) => isProvmarkError(e, "MODEL_UNREGISTERED"),
    );
  });

  it("--require-owner, PROVMARK_REQUIRE_OWNER=1 and { requireOwner } turn a missing owner into OWNER_REQUIRED", async () => {
    const flag = await cli(["check", genuine, "--require-owner"]);
    expect(flag.code).toBe(2);
    expect(JSON.parse(flag.stdout).error.code).toBe("OWNER_REQUIRED");
    const byEnv = await cli(["check", genuine], { ...env(), PROVMARK_REQUIRE_OWNER: "1" });
    expect(JSON.parse(byEnv.stdout).error.code).toBe("OWNER_REQUIRED");
    await expect(assertRegistered(genuine, { ...guard, requireOwner: true })).rejects.toSatisfy((e) =>
      isProvmarkError(e, "OWNER_REQUIRED"),
    );
    // with the owner, the requirement is met
    const ok = await cli(["check", genuine, "--require-owner", "--owner", owner.address]);
    expect(ok.code).toBe(0);
  });
});
