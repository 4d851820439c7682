import type { EvidenceReport } from "../core/detect/evidence.js";
import { parsePlanAnchorLabel, planAnchorLabel, planAnchorRoot, suspectHash } from "../core/detect/plan-anchor.js";
import { isProvmarkError, ProvmarkError } from "../errors.js";
import { ledgerError } from "../ledger/decode-error.js";
import { type Deployment, readDeploymentFile } from "../ledger/deployments.js";
import { type Ledger, type LedgerOptions, openLedger } from "../ledger/open-ledger.js";
import { sameAddress, type VersionRecord } from "../ledger/registry-client.js";
import { DEV_CHAIN_LABEL, devChainReason } from "./dev-chain.js";
import { isoInstant } from "./iso-instant.js";

export interface ChainCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/** What the chain check found out about the chain itself (null when it could not get that far). */
export interface ChainFacts {
  chainId: string;
  /** The registry the verifier trusts (never the report's). */
  registry: string;
  /** Where the chain was read (credentials redacted). */
  rpc: string;
  /** Why the chain is a dev chain whose records date nothing, or null. */
  devChain: string | null;
}

export interface ChainRecheck {
  check: ChainCheck;
  chain: ChainFacts | null;
  /**
   * Runs anchored in the trusted registry against the report's certificate and suspect (their plan
   * hashes): the verifier corrects for all of them, not only for those the report lists.
   */
  anchoredPlans: string[];
}

export interface ChainTrust {
  /** A deployment record the verifier trusts (`--deployment`): its registry, chain id and genesis. */
  deploymentFile?: string | undefined;
  /** The owner the verifier expects (`--owner`): the cited registration must be in its namespace. */
  owner?: string | null | undefined;
}

const NAME = "on-chain record re-read from the chain";

/**
 * Re-reads the report's on-chain record from the chain in the registry the verifier trusts —
 * `--deployment <file>`, else `--registry` / PROVMARK_REGISTRY, else the verifier's own deployment
 * record for that chain, never the report's `contract` (a report naming another one is flagged).
 * Checks that the version is registered there with the report's certificate, by the report's
 * transaction in the report's block, not revoked, and that the registration's time — its block's
 * timestamp, not the event's argument — is the reported one and precedes the run's start. Dates that
 * are not ISO 8601 fail. A dev chain is labelled "not independent evidence" (`chain.devChain`).
 */
export async function recheckOnChain(
  report: EvidenceReport,
  ledgerOptions: Omit<LedgerOptions, "access">,
  trust: ChainTrust = {},
): Promise<ChainRecheck> {
  const rec = report.onChain;
  if (!rec) {
    return {
      check: { name: NAME, ok: false, detail: "the report carries no on-chain record (detect with --digest)" },
      chain: null,
      anchoredPlans: [],
    };
  }
  const deployment = trust.deploymentFile === undefined ? null : await readDeploymentFile(trust.deploymentFile);
  const registry = deployment?.address ?? ledgerOptions.registry;
  const ledger = await openLedger({ ...ledgerOptions, ...(registry ? { registry } : {}), access: "read" }).catch(
    (e: unknown) => {
      throw isProvmarkError(e, "REGISTRY_NOT_DEPLOYED") ? noTrustedRegistry(e, rec.contract) : e;
    },
  );
  try {
    if (!ledger.registry) throw noTrustedRegistry(null, rec.contract, ledger.rpc);
    const address = ledger.registry.address;
    const problems = [
      ...datesProblems(report),
      ...(deployment ? await deploymentProblems(ledger, deployment, trust.deploymentFile as string) : []),
    ];
    if (rec.contract.toLowerCase() !== address.toLowerCase()) {
      problems.push(`the report names registry ${rec.contract}; the registry you trust is ${address}`);
    }
    if (ledger.chainId.toString() !== rec.chainId) {
      problems.push(`${ledger.rpc} is chain ${ledger.chainId}, the report names chain ${rec.chainId}`);
    }
    // The report pins its registration by namespace (older reports: by transaction); copies of the
    // digest in other namespaces are not it.
    const all = await ledger.registry.registrations(`0x${rec.digest}`);
    const v =
      (rec.modelId === undefined
        ? all.find((r) => r.txHash === rec.txHash)
        : all.find((r) => r.modelId.toLowerCase() === rec.modelId?.toLowerCase())) ??
      all[0] ??
      null;
    let at: string | null = null;
    if (!v) problems.push(`${rec.digest} is not registered in registry ${address} on ${ledger.rpc}`);
    else {
      at = await blockTime(ledger, v.blockNumber);
      problems.push(...recordProblems(report, v, at), ...identityProblems(report, v, trust.owner ?? null));
    }
    const anchors = await planAnchorFindings(report, ledger);
    problems.push(...anchors.problems);
    const devChain = await devChainReason(ledger);
    const chain: ChainFacts = { chainId: ledger.chainId.toString(), registry: address, rpc: ledger.rpc, devChain };
    const label = devChain === null ? "" : ` — ${DEV_CHAIN_LABEL} (${devChain})`;
    const check: ChainCheck = problems.length
      ? { name: NAME, ok: false, detail: `${problems.join("; ")}${label}` }
      : {
          name: NAME,
          ok: true,
          detail: `registered at ${at} (its block's timestamp) in registry ${address} on chain ${ledger.chainId} (${ledger.rpc}), before the run, ${whose(rec, v, trust.owner ?? null)}; ${anchors.note}${label}`,
        };
    return { check, chain, anchoredPlans: anchors.planHashes };
  } finally {
    await ledger.close();
  }
}

/** Whose registration passed, and how far that was checked. */
function whose(rec: NonNullable<EvidenceReport["onChain"]>, v: VersionRecord | null, expected: string | null): string {
  if (!v) return "";
  const by = `in model ${v.modelId} of ${v.owner}`;
  if (expected !== null) return `${by} (the owner you expect)`;
  return rec.modelId === undefined
    ? `${by} (an older report: it records no model id or owner; pass --owner to check whose release it cites)`
    : `${by} (as the report says; pass --owner to check it is the owner you expect)`;
}

function noTrustedRegistry(cause: ProvmarkError | null, reported: string, rpc?: string): ProvmarkError {
  const where = rpc === undefined ? "" : ` on ${rpc}`;
  return new ProvmarkError(
    "REGISTRY_NOT_DEPLOYED",
    `evidence verify --chain needs a registry you trust${where}${cause ? ` (${cause.message})` : ""}; the report's own (${reported}) is not taken on its word`,
    {
      ...(cause === null ? {} : { cause }),
      ...(cause?.subject === undefined ? {} : { subject: cause.subject }),
      hints: [
        "Pass --registry <address> (or PROVMARK_REGISTRY) of the ProvenanceRegistry you trust on that chain,",
        "or --deployment <file>: a provmark deployment record you trust (it also pins the chain by its genesis).",
      ],
    },
  );
}

function datesProblems(report: EvidenceReport): string[] {
  const problems: string[] = [];
  const dates = { "run.startedAt": report.run.startedAt, "onChain.registeredAt": report.onChain?.registeredAt ?? "" };
  for (const [field, value] of Object.entries(dates)) {
    if (isoInstant(value) === null) problems.push(`${field} ${JSON.stringify(value)} is not an ISO 8601 date-time`);
  }
  return problems;
}

async function deploymentProblems(ledger: Ledger, d: Deployment, file: string): Promise<string[]> {
  const problems: string[] = [];
  if (d.chainId !== ledger.chainId.toString()) {
    problems.push(`${file} is for chain ${d.chainId}, ${ledger.rpc} is chain ${ledger.chainId}`);
  }
  const genesis = await ledger.provider.getBlock(0).catch((e: unknown) => {
    throw ledgerError(e, "read the genesis block", ledger.rpc);
  });
  if (genesis?.hash !== d.genesisHash) {
    problems.push(`${ledger.rpc}'s genesis block is ${genesis?.hash}, not ${d.genesisHash} as ${file} records`);
  }
  return problems;
}

/** A block's timestamp as ISO 8601: the only registration time a contract cannot make up. */
async function blockTime(ledger: Ledger, blockNumber: number): Promise<string> {
  const block = await ledger.provider.getBlock(blockNumber).catch((e: unknown) => {
    throw ledgerError(e, `read block ${blockNumber}`, ledger.rpc);
  });
  if (!block) {
    throw new ProvmarkError(
      "CHAIN_RPC_ERROR",
      `${ledger.rpc} has no block ${blockNumber}, which logged the registration`,
      {
        subject: ledger.rpc,
      },
    );
  }
  return new Date(block.timestamp * 1000).toISOString();
}

function recordProblems(report: EvidenceReport, v: VersionRecord, at: string): string[] {
  const rec = report.onChain as NonNullable<EvidenceReport["onChain"]>;
  const problems: string[] = [];
  if (v.certificateHash !== `0x${report.certificate.hash}`) {
    problems.push(`the chain's certificate hash is ${v.certificateHash}, not the report's certificate`);
  }
  const claimedByEvent = new Date(v.registeredAt * 1000).toISOString();
  if (claimedByEvent !== at) problems.push(`the registry's event says ${claimedByEvent}, its block is stamped ${at}`);
  if (at !== rec.registeredAt) problems.push(`registered at ${at} (block time), the report says ${rec.registeredAt}`);
  if (v.txHash !== rec.txHash) problems.push(`registered by tx ${v.txHash}, the report says ${rec.txHash}`);
  if (v.blockNumber !== rec.blockNumber)
    problems.push(`registered in block ${v.blockNumber}, the report says ${rec.blockNumber}`);
  const started = isoInstant(report.run.startedAt);
  if (started !== null && Date.parse(at) > started) {
    problems.push(`the registration (${at}) does not precede the run (${report.run.startedAt})`);
  }
  if (v.revokedAt !== null) problems.push(`the version was revoked at ${new Date(v.revokedAt * 1000).toISOString()}`);
  return problems;
}

/**
 * Whose registration the report cites: its model id and owner (when the report records them, as
 * reports since identity-bound checks do) must be the chain's, and so must the owner the verifier
 * expects, whatever the report says. The registrant is compared for every report.
 */
function identityProblems(report: EvidenceReport, v: VersionRecord, expectedOwner: string | null): string[] {
  const rec = report.onChain as NonNullable<EvidenceReport["onChain"]>;
  const problems: string[] = [];
  if (rec.modelId !== undefined && rec.modelId.toLowerCase() !== v.modelId.toLowerCase()) {
    problems.push(`the digest is not registered in model ${rec.modelId}, which the report cites`);
  }
  if (rec.owner !== undefined && !sameAddress(rec.owner, v.owner)) {
    problems.push(`model ${v.modelId} is owned by ${v.owner}, the report says ${rec.owner}`);
  }
  if (!sameAddress(rec.registrant, v.registrant)) {
    problems.push(`registered by ${v.registrant}, the report says ${rec.registrant}`);
  }
  if (expectedOwner !== null && !sameAddress(expectedOwner, v.owner)) {
    problems.push(`the cited registration is ${v.owner}'s (model ${v.modelId}), not ${expectedOwner}'s as you expect`);
  }
  return problems;
}

/**
 * The run's own plan anchor (anchored in this registry, with this label, before the first query) and
 * every other plan anchored against the same certificate and suspect.
 */
async function planAnchorFindings(
  report: EvidenceReport,
  ledger: Ledger,
): Promise<{ problems: string[]; note: string; planHashes: string[] }> {
  const registry = ledger.registry;
  if (!registry) return { problems: [], note: "", planHashes: [] };
  const problems: string[] = [];
  const suspect = suspectHash(report.plan.suspect);
  const anchors = await registry.batchAnchors();
  const planHashes = [
    ...new Set(
      anchors
        .map((a) => parsePlanAnchorLabel(a.label))
        .filter((l) => l !== null && l.certificateHash === report.certificate.hash && l.suspect === suspect)
        .map((l) => (l as { planHash: string }).planHash),
    ),
  ];
  const own = report.planAnchor;
  if (own) {
    const root = planAnchorRoot(report.planHash);
    const anchor = anchors.find((a) => a.root.toLowerCase() === root.toLowerCase());
    if (own.root.toLowerCase() !== root.toLowerCase()) problems.push("the report's plan anchor is not its plan's");
    if (!anchor) problems.push(`the run plan is not anchored in registry ${registry.address}`);
    else {
      if (anchor.label !== planAnchorLabel(report.certificate.hash, suspect, report.planHash)) {
        problems.push("the plan anchor's label names another certificate or suspect");
      }
      const at = await blockTime(ledger, anchor.blockNumber);
      const first = Math.min(
        ...report.queries.map((q) => (q.startedAt === null ? Number.POSITIVE_INFINITY : Date.parse(q.startedAt))),
      );
      if (Number.isFinite(first) && Date.parse(at) > first + 1000) {
        problems.push(`the plan was anchored at ${at}, after the first query (${new Date(first).toISOString()})`);
      }
    }
  }
  const note = own
    ? `run plan anchored before the first query; ${planHashes.length} anchored run(s) against this certificate and suspect`
    : `the run plan was not anchored (detect --anchor); ${planHashes.length} anchored run(s) against this certificate and suspect`;
  return { problems, note, planHashes };
}
