import { createCipheriv, randomBytes, scryptSync } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { imageParams, type WatermarkKey } from "../../src/core/watermark/params.js";
import { keyId, readKeyFile, writeKeyFile } from "../../src/watermark/key-file.js";
import { tempDir } from "../helpers/fixtures.js";

const PASS = "key-file-test";
const v1Params = {
  classes: 10,
  inputShape: [28, 28, 1] as [number, number, number],
  layer: "dense1",
  bits: 16,
  triggers: 20,
  family: "noise" as const,
  stampStrength: 0.3,
};
const key: WatermarkKey = { seed: new Uint8Array(32).fill(7), params: imageParams(v1Params), stampBases: [] };

describe("key files", () => {
  it("round-trip a v2 key with its input model, mode 0600, scrypt at ethers' keystore cost", async () => {
    const path = join(await tempDir(), "k.key");
    await writeKeyFile(path, key, PASS);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const file = JSON.parse(await readFile(path, "utf8"));
    expect(file).toMatchObject({ version: 2, kdf: { N: 2 ** 17, r: 8, p: 1 } });
    const back = await readKeyFile(path, PASS);
    expect(back.params).toEqual(key.params);
    expect(Buffer.from(back.seed).equals(Buffer.from(key.seed))).toBe(true);
  });

  it("refuse a truncated GCM tag and a short IV (KEY_FILE_INVALID), not only a wrong passphrase", async () => {
    const path = join(await tempDir(), "k.key");
    await writeKeyFile(path, key, PASS);
    const file = JSON.parse(await readFile(path, "utf8"));
    for (const [field, bytes] of [
      ["tag", 4],
      ["iv", 8],
    ] as const) {
      const bad = structuredClone(file);
      bad.cipher[field] = Buffer.from(file.cipher[field], "base64").subarray(0, bytes).toString("base64");
      await writeFile(path, JSON.stringify(bad));
      await expect(readKeyFile(path, PASS)).rejects.toMatchObject({
        code: "KEY_FILE_INVALID",
        message: expect.stringContaining(`cipher.${field}`),
      });
    }
  });

  it("still read a v1 file (2^15 scrypt, v1 parameters) as a v1 key", async () => {
    // Written the way provmark 0.1 did, by hand: the format must stay readable.
    const header = {
      format: "provmark-key",
      version: 1,
      keyId: keyId(key),
      kdf: { name: "scrypt", N: 2 ** 15, r: 8, p: 1, salt: randomBytes(16).toString("base64") },
    };
    const k = scryptSync(PASS, Buffer.from(header.kdf.salt, "base64"), 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 2 ** 26 });
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", k, iv);
    c.setAAD(Buffer.from(JSON.stringify(header)));
    const secret = JSON.stringify({ seed: Buffer.from(key.seed).toString("hex"), params: v1Params, stampBases: [] });
    const ct = Buffer.concat([c.update(secret, "utf8"), c.final()]);
    const path = join(await tempDir(), "old.key");
    await writeFile(
      path,
      JSON.stringify({
        ...header,
        cipher: { name: "aes-256-gcm", iv: iv.toString("base64"), tag: c.getAuthTag().toString("base64") },
        ciphertext: ct.toString("base64"),
      }),
    );
    const old = await readKeyFile(path, PASS);
    expect(old.params.derivation).toBe("hkdf/v1");
    expect(old.params.io.input).toMatchObject({ kind: "image", height: 28, width: 28, channels: 1 });
  });
});
