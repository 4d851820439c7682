import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { fromFsError, ProvmarkError } from "../errors.js";
import { writeFileAtomic } from "../model/atomic-write.js";

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/);
const hash = z.string().regex(/^0x[0-9a-f]{64}$/);

/** Where a ProvenanceRegistry lives on one chain, and the chain it was deployed to (by genesis hash). */
export const deploymentSchema = z.object({
  format: z.literal("provmark.deployment/v1"),
  contract: z.literal("ProvenanceRegistry"),
  chainId: z.string().regex(/^\d+$/),
  /** Block 0's hash tells a restarted dev node (same chain id, new state) from the one deployed to. */
  genesisHash: hash,
  address,
  txHash: hash,
  blockNumber: z.number().int().nonnegative(),
  deployer: address,
  deployedAt: z.string(),
  tool: z.string(),
});
export type Deployment = z.infer<typeof deploymentSchema>;

export const deploymentPath = (dir: string, chainId: bigint) => join(dir, "deployments", `${chainId}.json`);

/** The recorded deployment for a chain id, or null when there is none. */
export async function readDeployment(dir: string, chainId: bigint): Promise<Deployment | null> {
  return readDeploymentFile(deploymentPath(dir, chainId), { missingOk: true });
}

/**
 * A deployment record file (`provmark deploy` writes them; a verifier may be handed one it trusts).
 * Unreadable, not JSON or not a record: REGISTRY_NOT_DEPLOYED naming the file. Missing: null with
 * `missingOk`, else PATH_NOT_FOUND.
 */
export async function readDeploymentFile(path: string, o: { missingOk: true }): Promise<Deployment | null>;
export async function readDeploymentFile(path: string, o?: { missingOk?: false }): Promise<Deployment>;
export async function readDeploymentFile(path: string, o: { missingOk?: boolean } = {}): Promise<Deployment | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" && o.missingOk) return null;
    throw fromFsError(e, path);
  }
  let problem = "it is not JSON";
  try {
    const parsed = deploymentSchema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
    problem = parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
      .join("; ");
  } catch {
    // not JSON: the problem says so
  }
  throw new ProvmarkError("REGISTRY_NOT_DEPLOYED", `${path} is not a valid deployment record (${problem})`, {
    subject: path,
    hints: ["Fix or remove the file and run `provmark deploy`, or pass --registry <address>."],
  });
}

export async function writeDeployment(dir: string, d: Deployment): Promise<string> {
  const path = deploymentPath(dir, BigInt(d.chainId));
  await writeFileAtomic(path, `${JSON.stringify(deploymentSchema.parse(d), null, 2)}\n`);
  return path;
}
