import type { VersionRecord } from "../../ledger/registry-client.js";
import { emit } from "../output.js";
import type { GlobalOptions } from "../program.js";
import { iso, type LedgerFlags, ledgerOptions, ownerFlag, unchecked } from "./ledger-flags.js";

/**
 * A model's versions (by name) or a version's lineage and its model's versions (by digest), with
 * revocations. Names and digests are per owner: with --owner only that owner's namespace counts;
 * without, every namespace of that name (or holding that digest) is listed under its owner.
 */
export async function history(target: string, flags: LedgerFlags, globals: GlobalOptions): Promise<void> {
  const { openLedger } = await import("../../ledger/open-ledger.js");
  const { modelIdOf, sameAddress } = await import("../../ledger/registry-client.js");
  const owner = ownerFlag(flags);
  const byDigest = /^(0x)?[0-9a-fA-F]{64}$/.test(target.trim());
  const ledger = await openLedger({ ...ledgerOptions(flags, globals), access: "read" });
  try {
    const registry = ledger.registry;
    let modelIds: string[] = [];
    let lineage: VersionRecord[] = [];
    if (registry && byDigest) {
      const { toBytes32 } = await import("../../core/digest/hex-digest.js");
      const digest = toBytes32(target);
      const found = (await registry.registrations(digest)).filter((r) => owner === null || sameAddress(r.owner, owner));
      modelIds = found.map((r) => r.modelId);
      if (found[0]) lineage = await registry.lineage(found[0].modelId, digest);
    } else if (registry) {
      modelIds =
        owner === null ? (await registry.modelsNamed(target)).map((m) => m.modelId) : [modelIdOf(owner, target)];
    }
    const namespaces: { modelId: string; owner: string | null; versions: VersionRecord[] }[] = [];
    for (const modelId of modelIds) {
      if (!registry) break;
      namespaces.push({
        modelId,
        owner: await registry.modelOwner(modelId),
        versions: await registry.versionsOf(modelId),
      });
    }
    const view = (v: VersionRecord) => ({
      ...v,
      digest: v.digest.slice(2),
      parent: v.parent?.slice(2) ?? null,
      certificateHash: v.certificateHash?.slice(2) ?? null,
      registeredAt: iso(v.registeredAt),
      revokedAt: iso(v.revokedAt),
      status: v.revokedAt === null ? "registered" : "revoked",
    });
    const versions = namespaces.flatMap((n) => n.versions);
    const result = {
      query: target,
      kind: byDigest ? "digest" : "model",
      found: versions.length > 0,
      expectedOwner: owner,
      ownerChecked: owner !== null,
      chainId: ledger.chainId.toString(),
      contract: registry?.address ?? null,
      rpc: ledger.rpc,
      modelId: lineage[0]?.modelId ?? namespaces[0]?.modelId ?? null,
      namespaces: namespaces.map((n) => ({ modelId: n.modelId, owner: n.owner, versions: n.versions.length })),
      lineage: lineage.map(view),
      versions: versions.map(view),
    };
    emit(result, flags, (r) => {
      if (!r.found) return `${r.query}: nothing registered${owner ? ` by ${owner}` : ""} on ${r.rpc}`;
      const lines = [`chain ${r.chainId} (${r.rpc}), registry ${r.contract}`];
      if (!r.ownerChecked) {
        for (const n of r.namespaces) lines.push(`WARNING: model ${n.modelId} ${unchecked(n.owner ?? "(nobody)")}`);
      }
      if (r.lineage.length) {
        lines.push("", `lineage of ${r.query} in model ${r.lineage[0]?.modelId} (newest first):`);
        for (const v of r.lineage) lines.push(`  ${v.digest}  ${v.registeredAt}${v.revokedAt ? "  REVOKED" : ""}`);
      }
      for (const n of namespaces) {
        lines.push("", `model ${n.modelId}, owner ${n.owner}: ${n.versions.length} versions, in registration order:`);
        for (const v of n.versions.map(view)) {
          lines.push(`  ${v.digest}  registered ${v.registeredAt} by ${v.registrant}`);
          lines.push(`      parent ${v.parent ?? "(root)"}  manifest ${v.manifestCid}`);
          if (v.revokedAt) lines.push(`      REVOKED ${v.revokedAt} by ${v.revoker}: ${v.revocationReason}`);
        }
      }
      return lines.join("\n");
    });
    if (!result.found) process.exitCode = 5;
  } finally {
    await ledger.close();
  }
}
