import { cp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildStatement, serializeStatement } from "../../src/core/model-signing/index.js";
import { hashSignedFiles } from "../../src/signing/hash-signed-files.js";
import { resolveIgnorePaths } from "../../src/signing/resolve-ignore-paths.js";
import { verifyModelSignature } from "../../src/signing/verify-model-signature.js";
import { tempDir } from "../helpers/fixtures.js";
import { MS_FIXTURES, MS_KEYS } from "../helpers/model-signing.js";

const FIXTURES = MS_FIXTURES;
const KEYS = MS_KEYS;
const PUB = join(KEYS, "signing-key-pub.pem");
const ROOT = join(KEYS, "ca-cert.pem");

/** Each fixture as model_signing's own scripts/tests verify it. */
const CASES = [
  { dir: "v1.0.0-certificate", model: ".", ignore: [] as string[] },
  { dir: "v1.0.0-elliptic-key", model: "signme-1", ignore: [] },
  { dir: "v1.0.1-certificate", model: ".", ignore: ["ignore-me"] },
  { dir: "v1.0.1-elliptic-key", model: ".", ignore: ["ignore-me"] },
  { dir: "v1.1.0-certificate", model: ".", ignore: ["ignore-me"] },
  { dir: "v1.1.0-elliptic-key", model: ".", ignore: ["ignore-me"] },
];

/** The signed statement's exact bytes. */
async function fixturePayload(dir: string): Promise<Buffer> {
  const bundle = JSON.parse(await readFile(join(FIXTURES, dir, "model.sig"), "utf8"));
  return Buffer.from(bundle.dsseEnvelope.payload, "base64");
}

/** `value` with its object keys (and string lists) in the order `like` has them. */
function orderLike(value: unknown, like: unknown): unknown {
  if (Array.isArray(value) && Array.isArray(like)) {
    if (value.every((v) => typeof v === "string")) {
      expect([...value].sort()).toEqual([...like].sort());
      return like;
    }
    return value.map((v, i) => orderLike(v, like[i]));
  }
  if (value && typeof value === "object" && like && typeof like === "object") {
    const v = value as Record<string, unknown>;
    const l = like as Record<string, unknown>;
    expect(Object.keys(v).sort()).toEqual(Object.keys(l).sort());
    return Object.fromEntries(Object.keys(l).map((k) => [k, orderLike(v[k], l[k])]));
  }
  return value;
}

describe("model-signing fixtures (sigstore/model-transparency scripts/tests)", () => {
  for (const c of CASES) {
    const method = c.dir.endsWith("certificate") ? "certificate" : "key";
    it(`verifies ${c.dir} (${method} method)`, async () => {
      const dir = join(FIXTURES, c.dir);
      const r = await verifyModelSignature(join(dir, c.model), {
        trust: method === "key" ? { publicKeyPath: PUB } : { certificateChainPaths: [ROOT] },
        signaturePath: join(dir, "model.sig"),
        ignorePaths: c.ignore.map((p) => join(dir, p)),
      });
      expect(r.method).toBe(method);
      expect(r.curve).toBe("P-384");
      expect(r.rootDigest).toMatch(/^[0-9a-f]{64}$/);
    });
  }

  // model_signing 1.0.x records no ignore_paths; 1.1 records them, in a set's (run-dependent) order.
  // The predicate is a protobuf Struct, so even its key order varies between the reference's runs:
  // these three fixtures happen to use the order provmark writes, and match byte for byte.
  for (const dir of ["v1.0.0-certificate", "v1.0.1-certificate", "v1.0.1-elliptic-key"]) {
    it(`builds the statement of ${dir} byte for byte`, async () => {
      const model = join(FIXTURES, dir);
      const hashed = await hashSignedFiles(model, { ignorePaths: ["ignore-me", "model.sig"], allowSymlinks: false });
      const ours = serializeStatement(
        buildStatement(hashed.modelName, hashed.resources, {
          method: "files",
          hash_type: "sha256",
          allow_symlinks: false,
        }),
      );
      expect(Buffer.from(ours).toString()).toBe((await fixturePayload(dir)).toString());
    });
  }

  for (const c of CASES.filter((x) => x.dir.startsWith("v1.1"))) {
    it(`builds the statement of ${c.dir}: same values, and its bytes once in the fixture's key order`, async () => {
      // a copy named like the fixture: the subject name is the directory's
      const model = join(await tempDir(), c.dir);
      await cp(join(FIXTURES, c.dir), model, { recursive: true });
      const ignorePaths = resolveIgnorePaths(
        model,
        c.ignore.map((p) => join(model, p)),
        {
          signaturePath: join(model, "model.sig"),
          ignoreGitPaths: true,
        },
      );
      const hashed = await hashSignedFiles(model, { ignorePaths, allowSymlinks: false });
      const statement = buildStatement(hashed.modelName, hashed.resources, {
        method: "files",
        hash_type: "sha256",
        allow_symlinks: false,
        ignore_paths: ignorePaths,
      });
      const payload = await fixturePayload(c.dir);
      const theirs = JSON.parse(payload.toString());
      const reordered = orderLike(statement, theirs);
      expect(reordered).toEqual(theirs);
      expect(Buffer.from(serializeStatement(reordered)).toString()).toBe(payload.toString());
    });
  }
});
