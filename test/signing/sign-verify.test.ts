import { generateKeyPairSync, sign } from "node:crypto";
import { cp, mkdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  buildBundle,
  buildStatement,
  comparePosixPaths,
  PAYLOAD_TYPE,
  pae,
  serializeStatement,
} from "../../src/core/model-signing/index.js";
import { isProvmarkError } from "../../src/errors.js";
import { keyHint } from "../../src/signing/ec-keys.js";
import { signModel } from "../../src/signing/sign-model.js";
import { verifyModelSignature } from "../../src/signing/verify-model-signature.js";
import { tempDir } from "../helpers/fixtures.js";
import { MS_KEYS, PKI } from "../helpers/model-signing.js";

const noPassphrase = async () => {
  throw new Error("no passphrase expected");
};

async function model(): Promise<string> {
  const dir = join(await tempDir(), "my-model");
  await mkdir(join(dir, "weights"), { recursive: true });
  await writeFile(join(dir, "model.json"), '{"format":"layers-model"}');
  await writeFile(join(dir, "weights", "group1-shard1of1.bin"), new Uint8Array(1000).fill(7));
  await writeFile(join(dir, "weights-extra.txt"), "a file sorted after weights/ by components");
  await mkdir(join(dir, ".git"));
  await writeFile(join(dir, ".git", "HEAD"), "ref: refs/heads/main\n");
  return dir;
}

async function keyPair(curve: string): Promise<{ priv: string; pub: string }> {
  const dir = await tempDir();
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: curve });
  const priv = join(dir, "key.pem");
  const pub = join(dir, "key.pub.pem");
  await writeFile(priv, privateKey.export({ type: "pkcs8", format: "pem" }));
  await writeFile(pub, publicKey.export({ type: "spki", format: "pem" }));
  return { priv, pub };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "OK";
  } catch (e) {
    if (isProvmarkError(e)) return e.code;
    throw e;
  }
}

describe("sign / verify round trips", () => {
  for (const [curve, name] of [
    ["prime256v1", "P-256"],
    ["secp384r1", "P-384"],
    ["secp521r1", "P-521"],
  ] as const) {
    it(`signs and verifies with an ECDSA ${name} key`, async () => {
      const dir = await model();
      const k = await keyPair(curve);
      const s = await signModel(dir, { privateKeyPath: k.priv, passphrase: noPassphrase });
      expect(s).toMatchObject({ method: "key", curve: name, modelName: "my-model", files: 3 });
      expect(s.ignorePaths).toEqual([".git", ".gitattributes", ".github", ".gitignore", "model.sig"]);
      const v = await verifyModelSignature(dir, { trust: { publicKeyPath: k.pub } });
      expect(v).toMatchObject({ method: "key", curve: name, rootDigest: s.rootDigest, files: 3 });
      const bundle = JSON.parse(await readFile(join(dir, "model.sig"), "utf8"));
      const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, "base64").toString());
      expect(statement.predicate.resources.map((r: { name: string }) => r.name)).toEqual([
        "model.json",
        "weights/group1-shard1of1.bin",
        "weights-extra.txt",
      ]);
    });
  }

  it("refuses to replace a signature without force, and writes the reference's bundle layout", async () => {
    const dir = await model();
    const k = await keyPair("prime256v1");
    await signModel(dir, { privateKeyPath: k.priv, passphrase: noPassphrase });
    expect(await codeOf(signModel(dir, { privateKeyPath: k.priv, passphrase: noPassphrase }))).toBe("OUTPUT_EXISTS");
    await signModel(dir, { privateKeyPath: k.priv, passphrase: noPassphrase, force: true });
    const text = await readFile(join(dir, "model.sig"), "utf8");
    expect(Object.keys(JSON.parse(text))).toEqual(["mediaType", "verificationMaterial", "dsseEnvelope"]);
    expect(text).toMatch(
      /^\{"mediaType":"application\/vnd\.dev\.sigstore\.bundle\.v0\.3\+json","verificationMaterial":\{"publicKey":\{"hint":"[0-9a-f]{64}"\},"tlogEntries":\[\]\},"dsseEnvelope":\{"payload":"/,
    );
  });

  it("signs with the reference's P-384 key and certificate chain, verified against its root", async () => {
    const dir = await model();
    await signModel(dir, {
      privateKeyPath: join(MS_KEYS, "signing-key.pem"),
      signingCertificatePath: join(MS_KEYS, "signing-key-cert.pem"),
      certificateChainPaths: [join(MS_KEYS, "int-ca-cert.pem")],
      passphrase: noPassphrase,
    });
    const v = await verifyModelSignature(dir, { trust: { certificateChainPaths: [join(MS_KEYS, "ca-cert.pem")] } });
    expect(v.method).toBe("certificate");
    expect(v.certificatePath).toEqual(["CN=intermediate-ca", "CN=intermediate-ca", "CN=root-ca"]);
  });

  it("signs with an encrypted P-521 key and a certificate chain (root P-256, intermediate P-384)", async () => {
    const dir = await model();
    let asked = 0;
    await signModel(dir, {
      privateKeyPath: join(PKI, "leaf-key-encrypted.pem"),
      signingCertificatePath: join(PKI, "leaf-cert.pem"),
      certificateChainPaths: [join(PKI, "int-cert.pem")],
      passphrase: async () => {
        asked++;
        return "correct horse battery";
      },
    });
    expect(asked).toBe(1);
    const v = await verifyModelSignature(dir, { trust: { certificateChainPaths: [join(PKI, "root-cert.pem")] } });
    expect(v).toMatchObject({
      curve: "P-521",
      certificatePath: ["CN=provmark-test-signer", "CN=provmark-test-intermediate", "CN=provmark-test-root"],
    });
    const wrong = signModel(dir, {
      privateKeyPath: join(PKI, "leaf-key-encrypted.pem"),
      force: true,
      passphrase: async () => "wrong passphrase",
    });
    expect(await codeOf(wrong)).toBe("SIGNATURE_KEY_INVALID");
  });

  it("refuses a certificate that is not the private key's pair", async () => {
    const dir = await model();
    const k = await keyPair("secp521r1");
    const r = signModel(dir, {
      privateKeyPath: k.priv,
      signingCertificatePath: join(PKI, "leaf-cert.pem"),
      passphrase: noPassphrase,
    });
    expect(await codeOf(r)).toBe("SIGNATURE_KEY_INVALID");
  });

  it("refuses non-ECDSA and other-curve keys", async () => {
    const dir = await model();
    const kdir = await tempDir();
    const ed = join(kdir, "ed.pem");
    await writeFile(ed, generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }));
    const k1 = join(kdir, "k1.pem");
    const secp256k1 = generateKeyPairSync("ec", { namedCurve: "secp256k1" }).privateKey;
    await writeFile(k1, secp256k1.export({ type: "pkcs8", format: "pem" }));
    expect(await codeOf(signModel(dir, { privateKeyPath: ed, passphrase: noPassphrase }))).toBe(
      "SIGNATURE_KEY_INVALID",
    );
    expect(await codeOf(signModel(dir, { privateKeyPath: k1, passphrase: noPassphrase }))).toBe(
      "SIGNATURE_KEY_INVALID",
    );
  });

  it("orders paths by component, as Python's PurePosixPath does", () => {
    expect(["a-b", "a/b", "a", "B", "é", "\u{1F600}", "\uffee"].sort(comparePosixPaths)).toEqual([
      "B",
      "a",
      "a/b",
      "a-b",
      "é",
      "\uffee",
      "\u{1F600}",
    ]);
  });
});

describe("attacks on a signed model (each must fail with its code)", () => {
  async function signed(): Promise<{ dir: string; pub: string; priv: string }> {
    const dir = await model();
    const k = await keyPair("secp384r1");
    await signModel(dir, { privateKeyPath: k.priv, passphrase: noPassphrase });
    return { dir, ...k };
  }
  const verifyKey = (dir: string, pub: string) => codeOf(verifyModelSignature(dir, { trust: { publicKeyPath: pub } }));

  it("a modified file", async () => {
    const { dir, pub } = await signed();
    await writeFile(join(dir, "weights", "group1-shard1of1.bin"), new Uint8Array(1000).fill(8));
    expect(await verifyKey(dir, pub)).toBe("SIGNATURE_DIGEST_MISMATCH");
  });

  it("an added file", async () => {
    const { dir, pub } = await signed();
    await writeFile(join(dir, "weights", "group1-shard2of2.bin"), "extra");
    expect(await verifyKey(dir, pub)).toBe("SIGNATURE_DIGEST_MISMATCH");
  });

  it("an added empty directory is no file, and an added ignored file does not count", async () => {
    const { dir, pub } = await signed();
    await mkdir(join(dir, "empty"));
    await writeFile(join(dir, ".gitignore"), "*.tmp\n");
    expect(await verifyKey(dir, pub)).toBe("OK");
  });

  it("a removed file", async () => {
    const { dir, pub } = await signed();
    await rm(join(dir, "weights-extra.txt"));
    expect(await verifyKey(dir, pub)).toBe("SIGNATURE_DIGEST_MISMATCH");
  });

  it("a renamed file", async () => {
    const { dir, pub } = await signed();
    await rename(join(dir, "weights", "group1-shard1of1.bin"), join(dir, "weights", "group1-shard1of2.bin"));
    expect(await verifyKey(dir, pub)).toBe("SIGNATURE_DIGEST_MISMATCH");
  });

  it("a symlink in place of a file", async () => {
    const { dir, pub } = await signed();
    await rm(join(dir, "weights-extra.txt"));
    await symlink(join(dir, "model.json"), join(dir, "weights-extra.txt"));
    expect(await verifyKey(dir, pub)).toBe("PATH_SYMLINK");
  });

  it("a signature by a different key", async () => {
    const { dir } = await signed();
    const other = await keyPair("secp384r1");
    expect(await verifyKey(dir, other.pub)).toBe("SIGNATURE_INVALID");
    // and with the hint made to match the other key, the ECDSA check itself refuses it
    const sigPath = join(dir, "model.sig");
    const bundle = JSON.parse(await readFile(sigPath, "utf8"));
    bundle.verificationMaterial.publicKey = {};
    await writeFile(sigPath, JSON.stringify(bundle));
    expect(await verifyKey(dir, other.pub)).toBe("SIGNATURE_INVALID");
  });

  it("a tampered statement payload", async () => {
    const { dir, pub } = await signed();
    const sigPath = join(dir, "model.sig");
    const bundle = JSON.parse(await readFile(sigPath, "utf8"));
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, "base64").toString());
    // the attacker swaps in the weights they shipped, with a consistent root digest
    await writeFile(join(dir, "weights", "group1-shard1of1.bin"), "backdoored");
    const resources = statement.predicate.resources.map((r: { name: string; digest: string }) => ({
      name: r.name,
      sha256: r.digest,
    }));
    resources[1].sha256 = "f".repeat(64);
    const forged = buildStatement(statement.subject[0].name, resources, statement.predicate.serialization);
    bundle.dsseEnvelope.payload = Buffer.from(serializeStatement(forged)).toString("base64");
    await writeFile(sigPath, JSON.stringify(bundle));
    expect(await verifyKey(dir, pub)).toBe("SIGNATURE_INVALID");
  });

  it("a payload type swapped in the envelope", async () => {
    const { dir, pub } = await signed();
    const sigPath = join(dir, "model.sig");
    const bundle = JSON.parse(await readFile(sigPath, "utf8"));
    bundle.dsseEnvelope.payloadType = "application/json";
    await writeFile(sigPath, JSON.stringify(bundle));
    expect(await verifyKey(dir, pub)).toBe("SIGNATURE_STATEMENT_INVALID");
  });

  it("a wrong predicateType, even correctly signed", async () => {
    const dir = await model();
    const k = await keyPair("prime256v1");
    const { createPrivateKey } = await import("node:crypto");
    const key = createPrivateKey(await readFile(k.priv, "utf8"));
    const statement = {
      ...buildStatement("my-model", [], { method: "files", hash_type: "sha256", allow_symlinks: false }),
      predicateType: "https://model_signing/Digests/v0.1",
    };
    const payload = serializeStatement(statement);
    const sig = sign("sha256", pae(PAYLOAD_TYPE, payload), key);
    await writeFile(join(dir, "model.sig"), buildBundle(payload, sig, { kind: "key", hint: keyHint(key) }));
    expect(await verifyKey(dir, k.pub)).toBe("SIGNATURE_STATEMENT_INVALID");
  });

  it("a statement whose root digest is not that of its resources, even correctly signed", async () => {
    const dir = await model();
    const k = await keyPair("prime256v1");
    const { createPrivateKey } = await import("node:crypto");
    const key = createPrivateKey(await readFile(k.priv, "utf8"));
    const statement = buildStatement("my-model", [], { method: "files", hash_type: "sha256", allow_symlinks: false });
    statement.subject[0].digest.sha256 = "0".repeat(64);
    const payload = serializeStatement(statement);
    const sig = sign("sha256", pae(PAYLOAD_TYPE, payload), key);
    await writeFile(join(dir, "model.sig"), buildBundle(payload, sig, { kind: "key", hint: keyHint(key) }));
    expect(await verifyKey(dir, k.pub)).toBe("SIGNATURE_STATEMENT_INVALID");
  });

  async function certSigned(): Promise<string> {
    const dir = await model();
    await signModel(dir, {
      privateKeyPath: join(PKI, "leaf-key.pem"),
      signingCertificatePath: join(PKI, "leaf-cert.pem"),
      certificateChainPaths: [join(PKI, "int-cert.pem")],
      passphrase: noPassphrase,
    });
    return dir;
  }
  const verifyChain = (dir: string, roots: string[]) =>
    codeOf(verifyModelSignature(dir, { trust: { certificateChainPaths: roots } }));

  it("a certificate chain not leading to the given root", async () => {
    const dir = await certSigned();
    expect(await verifyChain(dir, [join(PKI, "other-root-cert.pem")])).toBe("SIGNATURE_CHAIN_UNTRUSTED");
    expect(await verifyChain(dir, [join(MS_KEYS, "ca-cert.pem")])).toBe("SIGNATURE_CHAIN_UNTRUSTED");
    // trusting the intermediate alone is not enough: the chain must end at a self-signed root
    expect(await verifyChain(dir, [join(PKI, "int-cert.pem")])).toBe("SIGNATURE_CHAIN_UNTRUSTED");
    expect(await verifyChain(dir, [join(PKI, "root-cert.pem")])).toBe("OK");
  });

  it("a chain with its intermediate removed", async () => {
    const dir = await certSigned();
    const sigPath = join(dir, "model.sig");
    const bundle = JSON.parse(await readFile(sigPath, "utf8"));
    bundle.verificationMaterial.x509CertificateChain.certificates.splice(1, 1);
    await writeFile(sigPath, JSON.stringify(bundle));
    expect(await verifyChain(dir, [join(PKI, "root-cert.pem")])).toBe("SIGNATURE_CHAIN_UNTRUSTED");
  });

  it("a leaf certificate swapped for another of the same CA", async () => {
    const dir = await certSigned();
    const sigPath = join(dir, "model.sig");
    const bundle = JSON.parse(await readFile(sigPath, "utf8"));
    const { X509Certificate } = await import("node:crypto");
    const tls = new X509Certificate(await readFile(join(PKI, "tls-cert.pem")));
    bundle.verificationMaterial.x509CertificateChain.certificates[0].rawBytes = tls.raw.toString("base64");
    await writeFile(sigPath, JSON.stringify(bundle));
    // the TLS leaf may not sign code, so the chain check refuses it before its key is tried
    expect(await verifyChain(dir, [join(PKI, "root-cert.pem")])).toBe("SIGNATURE_CHAIN_UNTRUSTED");
  });

  it("a certificate-method signature verified as a key signature, and the reverse", async () => {
    const dir = await certSigned();
    expect(await verifyKey(dir, join(MS_KEYS, "signing-key-pub.pem"))).toBe("SIGNATURE_BUNDLE_INVALID");
    const k = await signed();
    expect(await verifyChain(k.dir, [join(PKI, "root-cert.pem")])).toBe("SIGNATURE_BUNDLE_INVALID");
  });

  it("a missing or malformed signature file", async () => {
    const { dir, pub } = await signed();
    expect(
      await codeOf(verifyModelSignature(dir, { trust: { publicKeyPath: pub }, signaturePath: join(dir, "nope.sig") })),
    ).toBe("SIGNATURE_FILE_MISSING");
    await writeFile(join(dir, "model.sig"), '{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.1"}');
    expect(await verifyKey(dir, pub)).toBe("SIGNATURE_BUNDLE_INVALID");
  });

  it("a copy of the fixture models moved elsewhere still verifies (paths are relative)", async () => {
    const dir = await certSigned();
    const moved = join(await tempDir(), "renamed-model");
    await cp(dir, moved, { recursive: true });
    expect(await verifyChain(moved, [join(PKI, "root-cert.pem")])).toBe("OK");
  });
});
