import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { provmark } from "../helpers/cli.js";
import { tempDir, writeFakeModel } from "../helpers/fixtures.js";
import { MS_KEYS, PKI } from "../helpers/model-signing.js";

// sign → register → check --signature, each its own process on one embedded chain
let home: string;
let model: string;
const run = (args: string[]) =>
  provmark(["--data-dir", home, ...args, "--json"], { env: { PROVMARK_RPC_URL: "", PROVMARK_IPFS_API: "" } });

beforeAll(async () => {
  home = await tempDir();
  model = join(await tempDir(), "signed-model");
  await writeFakeModel(model, [{ name: "d/kernel", shape: [6, 4] }]);
});

describe("register records the model-signing root digest; check --signature verifies it", () => {
  it("signs, registers (recording the root digest), and checks with the signature", async () => {
    const signed = await run([
      "sign",
      model,
      "--private-key",
      join(PKI, "leaf-key.pem"),
      "--signing-certificate",
      join(PKI, "leaf-cert.pem"),
      "--certificate-chain",
      join(PKI, "int-cert.pem"),
    ]);
    expect(signed.code).toBe(0);
    const rootDigest = JSON.parse(signed.stdout).rootDigest;

    const reg = await run([
      "register",
      "--model",
      model,
      "--name",
      "signed",
      "--version",
      "1.0.0",
      "--manifest-out",
      join(home, "m.json"),
    ]);
    expect(reg.code, reg.stderr).toBe(0);
    const manifest = JSON.parse(await (await import("node:fs/promises")).readFile(join(home, "m.json"), "utf8"));
    expect(manifest.model.modelSigningDigest).toBe(rootDigest);

    const ok = await run(["check", model, "--manifest", "--certificate-chain", join(PKI, "root-cert.pem")]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      status: "registered",
      signature: { verified: true, method: "certificate", rootDigest, matchesManifest: true },
    });
    const plain = await run(["check", model]);
    expect(JSON.parse(plain.stdout).signature).toBeNull();
  });

  it("a signature by another key, or a changed model, fails check with exit 7", async () => {
    const wrongKey = await run(["check", model, "--public-key", join(MS_KEYS, "signing-key-pub.pem")]);
    expect(wrongKey.code).toBe(2); // a certificate-method signature: the key method does not apply
    expect(JSON.parse(wrongKey.stdout).error.code).toBe("SIGNATURE_BUNDLE_INVALID");
    const untrusted = await run(["check", model, "--certificate-chain", join(PKI, "other-root-cert.pem")]);
    expect(untrusted.code).toBe(7);
    await writeFile(join(model, "extra.txt"), "added after signing");
    const changed = await run([
      "check",
      model,
      "--signature",
      join(model, "model.sig"),
      "--certificate-chain",
      join(PKI, "root-cert.pem"),
    ]);
    expect(changed.code).toBe(7);
    expect(JSON.parse(changed.stdout).error.code).toBe("SIGNATURE_DIGEST_MISMATCH");
  });
});
