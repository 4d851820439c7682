import type { EvidenceReport } from "../../core/detect/evidence.js";
import { toHex } from "../../core/digest/bytes.js";
import { keyCommitment } from "../../core/keys/derive.js";
import type { Certificate } from "../../core/watermark/certificate.js";
import type { WatermarkKey } from "../../core/watermark/params.js";
import { ProvmarkError } from "../../errors.js";
import { readCertificate } from "../../watermark/read-json.js";
import type { GlobalOptions } from "../program.js";
import type { DetectFlags } from "./detect.js";
import { iso, ledgerOptions, ownerFlag, storeSettings, unchecked } from "./ledger-flags.js";

/**
 * The certificate detection proves against: from --cert (a file or a marked model's directory), or
 * from the registered version --digest (its manifest, fetched from IPFS and checked against the
 * chain), which also yields the on-chain record that dates the watermark.
 */
export async function resolveCertificate(
  flags: DetectFlags,
  globals: GlobalOptions,
  key: WatermarkKey,
): Promise<{
  certificate: Certificate;
  onChain: EvidenceReport["onChain"];
  /** Why the registration's chain is a dev chain (labelled in the report), or null. */
  devChain: string | null;
  responseConfig: unknown;
  request: EvidenceReport["suspect"]["request"];
}> {
  let certificate: Certificate | null = null;
  let certificateFrom = "";
  let onChain: EvidenceReport["onChain"] = null;
  let devChain: string | null = null;
  if (flags.cert) {
    certificate = await readCertificate(flags.cert);
    certificateFrom = flags.cert;
  }
  if (flags.digest) {
    const { toBytes32 } = await import("../../core/digest/hex-digest.js");
    const { openLedger } = await import("../../ledger/open-ledger.js");
    const digest = toBytes32(flags.digest, "--digest");
    const ledger = await openLedger({ ...ledgerOptions(flags, globals), access: "read" });
    try {
      const owner = ownerFlag(flags);
      const { sameAddress } = await import("../../ledger/registry-client.js");
      const all = ledger.registry ? await ledger.registry.registrations(digest) : [];
      // Without --owner the oldest registration is taken, loudly: anyone may register a copy.
      const rec = owner === null ? all[0] : all.find((r) => sameAddress(r.owner, owner));
      if (rec && owner === null && !flags.json) process.stderr.write(`WARNING: --digest ${unchecked(rec.owner)}\n`);
      if (!rec || !ledger.registry) {
        const where = owner === null ? "" : ` by ${owner}`;
        throw new ProvmarkError("MODEL_UNREGISTERED", `--digest ${digest} is not registered${where} on ${ledger.rpc}`, {
          subject: "--digest",
          hints: ["`provmark history <name>` lists the registered versions."],
        });
      }
      const { openStore } = await import("../../store/open-store.js");
      const { parseManifest } = await import("../../core/release-manifest.js");
      const store = await openStore(storeSettings(flags, globals));
      let bytes: Uint8Array;
      try {
        bytes = await store.cat(rec.manifestCid, { maxBytes: 64 * 1024 * 1024 });
      } finally {
        await store.close();
      }
      const parsed = parseManifest(bytes);
      if (!parsed.ok || !parsed.manifest.certificate) {
        throw new ProvmarkError(
          "MANIFEST_INVALID",
          `the manifest of ${digest} (${rec.manifestCid}) holds no certificate`,
          {
            subject: rec.manifestCid,
          },
        );
      }
      if (`0x${parsed.manifest.certificate.hash}` !== rec.certificateHash) {
        throw new ProvmarkError(
          "MANIFEST_INVALID",
          `the manifest's certificate does not hash to the on-chain certificate hash`,
          {
            subject: rec.manifestCid,
          },
        );
      }
      if (!certificate) {
        certificate = parsed.manifest.certificate.document;
        certificateFrom = rec.manifestCid;
      }
      onChain = {
        chainId: ledger.chainId.toString(),
        contract: ledger.registry.address,
        rpc: ledger.rpc,
        digest: digest.slice(2),
        // the block's timestamp, which a registry cannot make up (its event argument it can)
        registeredAt: iso((await ledger.provider.getBlock(rec.blockNumber))?.timestamp ?? rec.registeredAt) as string,
        registrant: rec.registrant,
        txHash: rec.txHash,
        blockNumber: rec.blockNumber,
        manifestCid: rec.manifestCid,
        modelId: rec.modelId,
        owner: rec.owner,
      };
      const { devChainReason } = await import("../../detect/dev-chain.js");
      devChain = await devChainReason(ledger);
    } finally {
      await ledger.close();
    }
  }
  if (!certificate) {
    throw new ProvmarkError(
      "USAGE",
      "detect needs the release's certificate: --cert <file|model dir> or --digest <registered version>",
      {
        subject: "--cert",
      },
    );
  }
  // checked before the first query: the verdict's exact test cannot use impossible numbers
  const { certificateNumberProblems } = await import("../../detect/certificate-numbers.js");
  const problems = certificateNumberProblems(certificate);
  if (problems.length > 0) {
    throw new ProvmarkError(
      flags.cert ? "USAGE" : "MANIFEST_INVALID",
      `the certificate in ${certificateFrom} is not usable: ${problems.join("; ")}`,
      { subject: certificateFrom, hints: ["Use the certificate the release was registered with, unedited."] },
    );
  }
  if (certificate.keyCommitment !== toHex(keyCommitment(key.seed))) {
    throw new ProvmarkError("USAGE", "the key does not belong to this certificate (key commitments differ)", {
      subject: "--key",
    });
  }
  let responseConfig: unknown = null;
  let request: EvidenceReport["suspect"]["request"] = null;
  if (flags.protocol === "json" && flags.config) {
    // validated like the adapter will (a coded error naming the file); the report keeps the response
    // section and the batch mode (to re-read answers) and the input slot (to find triggers in requests)
    const { loadJsonApiConfig, placeholders } = await import("../../detect/adapters/json-config.js");
    const cfg = await loadJsonApiConfig(flags.config);
    responseConfig = { ...cfg.response, batch: cfg.batch };
    const [slot] = placeholders(cfg.request);
    if (slot) {
      request = {
        inputPath: slot.path,
        batch: cfg.batch !== false,
        flat: slot.placeholder.endsWith("_FLAT"),
        scale: cfg.scale,
      };
    }
  }
  return { certificate, onChain, devChain, responseConfig, request };
}
