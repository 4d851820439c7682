import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { toBytes32 } from "../core/digest/hex-digest.js";
import { ProvmarkError } from "../errors.js";
import { type LedgerOptions, openLedger } from "../ledger/open-ledger.js";
import { requireRegistry } from "../release/register-release.js";
import type { StoreSettings } from "../store/open-store.js";

/**
 * Stores the evidence report in IPFS (report.json is the evidence CID; every body is added too, so the
 * CID's consumers can fetch them by hash) and files a claim on chain naming the suspect, the evidence
 * CID and the certificate hash, against the digest's registration in a namespace the signer owns or
 * maintains and whose certificate it is (the contract refuses any other certificate).
 */
export async function anchorClaim(o: {
  reportDir: string;
  digest: string;
  suspectRef: string;
  certificateHash: string;
  ledger: Omit<LedgerOptions, "access">;
  store: StoreSettings;
}): Promise<{ evidenceCid: string; txHash: string; claimId: string }> {
  const { openStore } = await import("../store/open-store.js");
  const store = await openStore(o.store);
  let evidenceCid: string;
  try {
    for (const f of await readdir(join(o.reportDir, "bodies"))) await store.addFile(join(o.reportDir, "bodies", f));
    await store.addFile(join(o.reportDir, "report.html"));
    evidenceCid = (await store.addBytes(await readFile(join(o.reportDir, "report.json")))).cid;
  } finally {
    await store.close();
  }
  const ledger = await openLedger({ ...o.ledger, access: "write" });
  try {
    const registry = requireRegistry(ledger);
    const digest = toBytes32(o.digest, "--digest");
    const certificateHash = toBytes32(o.certificateHash);
    const signer = await registry.signerAddress();
    const target = (await registry.registrationsManagedBy(digest, signer)).find(
      (r) => r.certificateHash === certificateHash,
    );
    if (!target) {
      throw new ProvmarkError(
        "REGISTRY_NOT_AUTHORIZED",
        `${signer} owns or maintains no model with version ${digest} under certificate ${certificateHash}: no claim filed`,
        { subject: "--digest", hints: [`The evidence is stored in IPFS as ${evidenceCid}.`] },
      );
    }
    const claim = await registry.fileClaim(target.modelId, digest, o.suspectRef, evidenceCid, certificateHash);
    return { evidenceCid, txHash: claim.txHash, claimId: claim.claimId };
  } finally {
    await ledger.close();
  }
}
