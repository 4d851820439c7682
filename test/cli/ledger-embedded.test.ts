import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { envelopeKey } from "../../src/core/keys/derive.js";
import { parseManifest } from "../../src/core/release-manifest.js";
import { isProvmarkError } from "../../src/errors.js";
import { assertRegistered } from "../../src/release/check-model.js";
import { isEnvelope, openEnvelope } from "../../src/store/envelope.js";
import { openStore } from "../../src/store/open-store.js";
import { readKeyFile } from "../../src/watermark/key-file.js";
import { provmark } from "../helpers/cli.js";
import { tempDir, writeFakeModel } from "../helpers/fixtures.js";

// Every command below is its own process: state must survive in the data dir, nothing else runs.
let home: string;
let base: string;
let child: string;
const run = (args: string[]) =>
  provmark(["--data-dir", home, ...args, "--json"], { env: { PROVMARK_RPC_URL: "", PROVMARK_IPFS_API: "" } });
const journalLines = async () =>
  (await readFile(join(home, "chain", "journal.jsonl"), "utf8")).trim().split("\n").length;

beforeAll(async () => {
  home = await tempDir();
  const models = await tempDir();
  base = join(models, "base");
  child = join(models, "child");
  await writeFakeModel(base, [{ name: "d/kernel", shape: [6, 4] }]);
  await writeFakeModel(child, [{ name: "d/kernel", shape: [6, 4], bytes: new Uint8Array(96).fill(7) }]);
});

describe("register → history → check on the embedded chain, across processes", () => {
  let baseDigest: string;
  let childDigest: string;

  it("registers a root version and a child, each in its own process", async () => {
    const r1 = await run([
      "register",
      "--model",
      base,
      "--name",
      "demo-model",
      "--version",
      "1.0.0",
      "--license",
      "Apache-2.0",
      "--manifest-out",
      join(home, "base-manifest.json"),
    ]);
    expect(r1.code, r1.stdout + r1.stderr).toBe(0);
    const a = JSON.parse(r1.stdout);
    expect(a).toMatchObject({ chainId: "31337", name: "demo-model", version: "1.0.0", parent: null });
    expect(a.contract).toMatch(/^0x[0-9a-fA-F]{40}$/);
    expect(a.modelCreatedTx).toMatch(/^0x/);
    baseDigest = a.digest;

    const r2 = await run([
      "register",
      "--model",
      child,
      "--name",
      "demo-model",
      "--version",
      "1.1.0",
      "--parent",
      baseDigest,
    ]);
    expect(r2.code, r2.stdout + r2.stderr).toBe(0);
    const b = JSON.parse(r2.stdout);
    expect(b).toMatchObject({ contract: a.contract, parent: baseDigest, modelCreatedTx: null });
    expect(b.blockNumber).toBeGreaterThan(a.blockNumber);
    childDigest = b.digest;

    // the manifest in IPFS is the one written locally, and it names the model's files digest
    const store = await openStore({ mode: "embedded", blockstoreDir: join(home, "ipfs") });
    try {
      const fromIpfs = parseManifest(await store.cat(a.manifestCid));
      const local = parseManifest(await readFile(join(home, "base-manifest.json"), "utf8"));
      expect(fromIpfs.ok && local.ok).toBe(true);
      if (fromIpfs.ok && local.ok) {
        expect(fromIpfs.manifest).toEqual(local.manifest);
        expect(fromIpfs.manifest.model.filesDigest).toBe(baseDigest);
        expect(fromIpfs.manifest.metadata.license).toBe("Apache-2.0");
      }
    } finally {
      await store.close();
    }
  });

  it("check --manifest fetches the manifest from IPFS and matches it to the chain; a missing CID is coded", async () => {
    const ok = await run(["check", child, "--manifest"]);
    expect(ok.code, ok.stdout).toBe(0);
    expect(JSON.parse(ok.stdout).manifest).toMatchObject({ verified: true, name: "demo-model", version: "1.1.0" });
    // the same chain, but an IPFS store that never saw the manifest
    const bare = await tempDir();
    await cp(join(home, "chain"), join(bare, "chain"), { recursive: true });
    const missing = await provmark(["--data-dir", bare, "check", child, "--manifest", "--json"], {
      env: { PROVMARK_RPC_URL: "", PROVMARK_IPFS_API: "" },
    });
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout).error.code).toBe("IPFS_NOT_FOUND");
    const down = await run(["check", child, "--manifest", "--ipfs-api", "http://127.0.0.1:9"]);
    expect(JSON.parse(down.stdout).error.code).toBe("IPFS_UNREACHABLE");
  });

  it("history by name and by digest, from a fresh process", async () => {
    const byName = JSON.parse((await run(["history", "demo-model"])).stdout);
    expect(byName.versions.map((v: { digest: string }) => v.digest)).toEqual([baseDigest, childDigest]);
    const byDigest = JSON.parse((await run(["history", childDigest])).stdout);
    expect(byDigest.lineage.map((v: { digest: string }) => v.digest)).toEqual([childDigest, baseDigest]);
    const doctor = JSON.parse((await run(["doctor"])).stdout);
    // deploy, create the namespace, two registrations: one block each
    expect(doctor.chain).toMatchObject({ mode: "embedded", journalBlocks: 4, registry: byName.contract });
    const unknown = await run(["history", "no-such-model"]);
    expect(unknown.code).toBe(5);
    expect(JSON.parse(unknown.stdout).found).toBe(false);
  });

  it("a copier registering the same files under its own account changes nothing for check --owner", async () => {
    const { Wallet } = await import("ethers");
    const { DEV_ACCOUNT_KEYS } = await import("../../src/ledger/embedded/index.js");
    const owner = new Wallet(DEV_ACCOUNT_KEYS[0] as string).address;
    const copier = new Wallet(DEV_ACCOUNT_KEYS[2] as string);
    const copy = await provmark(["--data-dir", home, "register", "--model", child, "--name", "demo-model", "--json"], {
      env: { PROVMARK_RPC_URL: "", PROVMARK_IPFS_API: "", PROVMARK_PRIVATE_KEY: copier.privateKey },
    });
    expect(copy.code, copy.stdout + copy.stderr).toBe(0);
    expect(JSON.parse(copy.stdout)).toMatchObject({ owner: copier.address, digest: childDigest });
    expect(JSON.parse(copy.stdout).alsoRegisteredBy.map((x: { owner: string }) => x.owner)).toEqual([owner]);

    const mine = JSON.parse((await run(["check", child, "--owner", owner])).stdout);
    expect(mine).toMatchObject({ status: "registered", owner, ownerChecked: true });
    expect(mine.alsoRegisteredBy.map((x: { owner: string }) => x.owner)).toEqual([copier.address]);
    expect(mine.lineage.map((v: { digest: string }) => v.digest)).toEqual([childDigest, baseDigest]);
    const theirs = JSON.parse((await run(["check", child, "--owner", copier.address])).stdout);
    expect(theirs).toMatchObject({ status: "registered", owner: copier.address, ownerChecked: true });
    // without --owner: the oldest registration, said loudly to be unchecked
    const text = await provmark(["--data-dir", home, "check", child], {
      env: { PROVMARK_RPC_URL: "", PROVMARK_IPFS_API: "" },
    });
    expect(text.stdout).toContain(`registered by ${owner} — not checked against an expected owner`);
    const nobody = await run(["check", base, "--owner", copier.address]);
    expect(nobody.code).toBe(5);
    const both = JSON.parse((await run(["history", "demo-model"])).stdout);
    expect(both.namespaces.map((n: { owner: string }) => n.owner)).toEqual([owner, copier.address]);
    const one = JSON.parse((await run(["history", "demo-model", "--owner", owner])).stdout);
    expect(one.versions.map((v: { digest: string }) => v.digest)).toEqual([baseDigest, childDigest]);
    expect((await assertRegistered(child, { dataDir: home, rpcUrl: "", owner })).owner).toBe(owner);
  });

  it("check: registered (0), modified (5), revoked (6); the runtime guard agrees", async () => {
    const ok = await run(["check", child]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).lineage.map((v: { digest: string }) => v.digest)).toEqual([childDigest, baseDigest]);
    expect((await assertRegistered(child, { dataDir: home, rpcUrl: "" })).digest).toBe(`0x${childDigest}`);

    const lines = await journalLines();
    const bad = await run(["register", "--model", base, "--name", "demo-model"]);
    expect(JSON.parse(bad.stdout).error.code).toBe("REGISTRY_DUPLICATE_DIGEST");
    expect(await journalLines()).toBe(lines);

    const rev = await run(["revoke", baseDigest, "--reason", "trained on unlicensed data"]);
    expect(rev.code, rev.stdout).toBe(0);
    const revoked = await run(["check", base]);
    expect(revoked.code).toBe(6);
    expect(JSON.parse(revoked.stdout)).toMatchObject({
      status: "revoked",
      revocationReason: "trained on unlicensed data",
    });
    await expect(assertRegistered(base, { dataDir: home, rpcUrl: "" })).rejects.toSatisfy((e) =>
      isProvmarkError(e, "MODEL_REVOKED"),
    );

    await writeFile(join(child, "extra.txt"), "tampered\n");
    const changed = await run(["check", child]);
    expect(changed.code).toBe(5);
    expect(JSON.parse(changed.stdout).status).toBe("unregistered");
    await expect(assertRegistered(child, { dataDir: home, rpcUrl: "" })).rejects.toSatisfy((e) =>
      isProvmarkError(e, "MODEL_UNREGISTERED"),
    );
  });

  it("a child of a revoked or unknown parent is refused and nothing is journaled", async () => {
    const lines = await journalLines();
    const revokedParent = await run(["register", "--model", child, "--name", "demo-model", "--parent", baseDigest]);
    expect(JSON.parse(revokedParent.stdout).error.code).toBe("REGISTRY_REVOKED_PARENT");
    const unknownParent = await run([
      "register",
      "--model",
      child,
      "--name",
      "demo-model",
      "--parent",
      "ab".repeat(32),
    ]);
    expect(JSON.parse(unknownParent.stdout).error.code).toBe("REGISTRY_UNKNOWN_PARENT");
    expect(unknownParent.code).toBe(2);
    expect(await journalLines()).toBe(lines);
  });

  it("--upload --encrypt stores the weights only as envelopes the key file opens", async () => {
    const models = await tempDir();
    const priv = join(models, "private");
    await writeFakeModel(priv, [{ name: "p/kernel", shape: [8, 8] }]);
    const key = join(models, "release.key");
    const env = { PROVMARK_RPC_URL: "", PROVMARK_IPFS_API: "", PROVMARK_PASSPHRASE: "correct horse battery" };
    const kg = await provmark(
      ["keygen", "--out", key, "--classes", "3", "--input-shape", "8,8,1", "--bits", "16", "--triggers", "10"],
      { env },
    );
    expect(kg.code, kg.stderr).toBe(0);
    const r = await provmark(
      [
        "--data-dir",
        home,
        "register",
        "--model",
        priv,
        "--name",
        "private",
        "--upload",
        "--encrypt",
        "--key",
        key,
        "--json",
      ],
      { env },
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).uploaded).toBe(2);
    const store = await openStore({ mode: "embedded", blockstoreDir: join(home, "ipfs") });
    try {
      const m = parseManifest(await store.cat(JSON.parse(r.stdout).manifestCid));
      if (!m.ok) throw new Error(m.problems.join("; "));
      const seed = (await readKeyFile(key, env.PROVMARK_PASSPHRASE)).seed;
      for (const a of m.manifest.ipfs.artifacts) {
        expect(a.encrypted).toBe(true);
        const stored = await store.cat(a.cid);
        expect(isEnvelope(stored)).toBe(true);
        const clear = await readFile(join(priv, a.path));
        expect(Buffer.from(stored).includes(clear.subarray(0, 32))).toBe(false);
        expect(Buffer.from(await openEnvelope(envelopeKey(seed), stored)).equals(clear)).toBe(true);
      }
    } finally {
      await store.close();
    }
  });

  it("batch-anchors manifests under one root whose proofs the contract accepts", async () => {
    const m1 = join(home, "m1.json");
    const m2 = join(home, "m2.json");
    expect((await run(["manifest", "--model", child, "--name", "nightly", "--version", "n1", "--out", m1])).code).toBe(
      0,
    );
    await writeFile(join(child, "extra.txt"), "nightly 2\n");
    expect((await run(["manifest", "--model", child, "--name", "nightly", "--version", "n2", "--out", m2])).code).toBe(
      0,
    );
    const out = join(home, "batch.json");
    const r = await run(["batch-anchor", m1, m2, "--out", out]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.count).toBe(2);
    const doc = JSON.parse(await readFile(out, "utf8"));
    expect(doc.root).toBe(res.root);
    expect(doc.records.map((x: { version: string }) => x.version)).toEqual(["n1", "n2"]);
    const again = await run(["batch-anchor", m1, m2]);
    expect(JSON.parse(again.stdout).error.code).toBe("REGISTRY_REVERTED");
    const junk = join(home, "junk.json");
    await writeFile(junk, '{"schema":"nope"}');
    const invalid = await run(["batch-anchor", junk]);
    expect(invalid.code).toBe(2);
    expect(JSON.parse(invalid.stdout).error.code).toBe("MANIFEST_INVALID");
  });
});

describe("provmark chain", () => {
  it("refuses a non-loopback --host without --allow-remote, before opening anything", async () => {
    const r = await provmark(["--data-dir", await tempDir(), "chain", "--host", "0.0.0.0", "--port", "0", "--json"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: "USAGE" });
    expect(JSON.parse(r.stdout).error.message).toContain("not a loopback address");
  });
});
