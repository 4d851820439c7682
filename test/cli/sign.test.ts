import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { provmark } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";
import { MS_FIXTURES, MS_KEYS, PKI } from "../helpers/model-signing.js";

async function model(): Promise<string> {
  const dir = join(await tempDir(), "cli-model");
  await mkdir(join(dir, "sub"), { recursive: true });
  await writeFile(join(dir, "model.json"), "{}");
  await writeFile(join(dir, "sub", "w.bin"), new Uint8Array(64).fill(1));
  await writeFile(join(dir, "notes.txt"), "not part of the release");
  return dir;
}

describe("provmark sign / verify-signature", () => {
  it("verifies model_signing's own v1.1.0 fixtures (key and certificate methods)", async () => {
    const key = await provmark([
      "verify-signature",
      join(MS_FIXTURES, "v1.1.0-elliptic-key"),
      "--public-key",
      join(MS_KEYS, "signing-key-pub.pem"),
      "--json",
    ]);
    expect(key.code).toBe(0);
    expect(JSON.parse(key.stdout)).toMatchObject({ verified: true, method: "key", curve: "P-384", files: 2 });
    const cert = await provmark([
      "verify-signature",
      join(MS_FIXTURES, "v1.1.0-certificate"),
      "--certificate-chain",
      join(MS_KEYS, "ca-cert.pem"),
    ]);
    expect(cert.code).toBe(0);
    expect(cert.stdout).toContain("CN=root-ca");
  });

  it("signs with an encrypted key (passphrase from the environment, never printed) and a chain; verifies; a change exits 7", async () => {
    const dir = await model();
    const pass = "correct horse battery";
    const s = await provmark(
      [
        "sign",
        dir,
        "--private-key",
        join(PKI, "leaf-key-encrypted.pem"),
        "--signing-certificate",
        join(PKI, "leaf-cert.pem"),
        "--certificate-chain",
        join(PKI, "int-cert.pem"),
        "--ignore-paths",
        join(dir, "notes.txt"),
        "--json",
      ],
      { env: { PROVMARK_SIGNING_PASSPHRASE: pass } },
    );
    expect(s.stderr).toBe("");
    expect(s.code).toBe(0);
    expect(`${s.stdout}${s.stderr}`).not.toContain(pass);
    expect(JSON.parse(s.stdout)).toMatchObject({ method: "certificate", curve: "P-521", files: 2 });
    expect(JSON.parse(s.stdout).ignorePaths).toContain("notes.txt");

    const root = join(PKI, "root-cert.pem");
    const ok = await provmark(["verify-signature", dir, "--certificate-chain", root]);
    expect(ok.code).toBe(0);
    await writeFile(join(dir, "notes.txt"), "ignored, as the signature says");
    expect((await provmark(["verify-signature", dir, "--certificate-chain", root])).code).toBe(0);

    await writeFile(join(dir, "sub", "w.bin"), "tampered");
    const bad = await provmark(["verify-signature", dir, "--certificate-chain", root]);
    expect(bad.code).toBe(7);
    expect(bad.stderr).toContain("error[SIGNATURE_DIGEST_MISMATCH]");
    expect(bad.stderr).toContain("changed: sub/w.bin");
    const other = await provmark(["verify-signature", dir, "--certificate-chain", join(PKI, "other-root-cert.pem")]);
    expect(other.code).toBe(7);
    expect(other.stderr).toContain("error[SIGNATURE_CHAIN_UNTRUSTED]");
  });

  it("an encrypted key without a passphrase, or a wrong one, is a coded usage error", async () => {
    const dir = await model();
    const none = await provmark(["sign", dir, "--private-key", join(PKI, "leaf-key-encrypted.pem")]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("error[KEY_PASSPHRASE_MISSING]");
    expect(none.stderr).toContain("PROVMARK_SIGNING_PASSPHRASE");
    const wrong = await provmark(["sign", dir, "--private-key", join(PKI, "leaf-key-encrypted.pem")], {
      env: { PROVMARK_SIGNING_PASSPHRASE: "hunter2-hunter2" },
    });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("error[SIGNATURE_KEY_INVALID]");
    expect(wrong.stderr).not.toContain("hunter2");
  });

  it("signs with a key, refuses to overwrite without --force, and needs exactly one trust flag", async () => {
    const dir = await model();
    const key = join(MS_KEYS, "signing-key.pem");
    expect((await provmark(["sign", dir, "--private-key", key])).code).toBe(0);
    const again = await provmark(["sign", dir, "--private-key", key]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("error[OUTPUT_EXISTS]");
    const pub = join(MS_KEYS, "signing-key-pub.pem");
    expect((await provmark(["verify-signature", dir, "--public-key", pub])).code).toBe(0);
    const both = await provmark(["verify-signature", dir, "--public-key", pub, "--certificate-chain", pub]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("exactly one of --public-key and --certificate-chain");
    expect((await provmark(["verify-signature", dir])).code).toBe(2);
    const wrongKey = await provmark(["verify-signature", dir, "--public-key", join(dir, "notes.txt")]);
    expect(wrongKey.code).toBe(2);
    expect(wrongKey.stderr).toContain("error[SIGNATURE_KEY_INVALID]");
  });
});
