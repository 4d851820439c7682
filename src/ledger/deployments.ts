import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { ProvmarkError } from "../errors.js";
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
  const path = deploymentPath(dir, chainId);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new ProvmarkError("PATH_UNREADABLE", `cannot read ${path}: ${(e as Error).message}`, { subject: path });
  }
  const parsed = (() => {
    try {
      return deploymentSchema.safeParse(JSON.parse(text));
    } catch {
      return null;
    }
  })();
  if (!parsed?.success) {
    throw new ProvmarkError("REGISTRY_NOT_DEPLOYED", `${path} is not a valid deployment record`, {
      subject: path,
      hints: ["Fix or remove the file and run `provmark deploy`, or pass --registry <address>."],
    });
  }
  return parsed.data;
}

export async function writeDeployment(dir: string, d: Deployment): Promise<string> {
  const path = deploymentPath(dir, BigInt(d.chainId));
  await writeFileAtomic(path, `${JSON.stringify(deploymentSchema.parse(d), null, 2)}\n`);
  return path;
}
