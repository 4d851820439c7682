import { describe, expect, it } from "vitest";
import { parseManifest, RELEASE_MANIFEST_SCHEMA, type ReleaseManifest } from "../../src/core/release-manifest.js";
import { assertSignatureMatchesManifest } from "../../src/release/check-model.js";

const manifest = (modelSigningDigest?: string): ReleaseManifest => ({
  schema: RELEASE_MANIFEST_SCHEMA,
  name: "m",
  version: "1",
  createdAt: "2026-01-01T00:00:00.000Z",
  tool: "provmark test",
  model: {
    format: null,
    filesDigest: "a".repeat(64),
    weightsDigest: null,
    totalBytes: 0,
    files: [],
    ...(modelSigningDigest === undefined ? {} : { modelSigningDigest }),
  },
  parent: null,
  certificate: null,
  metadata: { license: null, trainingData: [], description: null, extra: {} },
  ipfs: {
    importSettings: {
      name: "unixfs-v1-2025",
      cidVersion: 1,
      rawLeaves: true,
      hash: "sha2-256",
      chunkSize: 1048576,
      maxChildrenPerNode: 1024,
    },
    artifacts: [],
  },
});

describe("the manifest's model-signing root digest", () => {
  it("is optional: manifests written before it still parse, and no digest is compared", () => {
    const old = parseManifest(JSON.stringify(manifest()));
    expect(old.ok).toBe(true);
    expect(assertSignatureMatchesManifest("b".repeat(64), manifest(), "model.sig")).toBeNull();
  });

  it("must equal a verified signature's subject digest", () => {
    expect(assertSignatureMatchesManifest("b".repeat(64), manifest("b".repeat(64)), "model.sig")).toBe(true);
    expect(() => assertSignatureMatchesManifest("c".repeat(64), manifest("b".repeat(64)), "model.sig")).toThrow(
      /records b{64}/,
    );
  });
});
