import { fileURLToPath } from "node:url";

/** Compiles the contracts once, before any test file runs (workers would race on artifacts/). */
export default async function setup(): Promise<void> {
  process.env.HARDHAT_CONFIG ??= fileURLToPath(new URL("../hardhat.config.ts", import.meta.url));
  const { default: hre } = await import("hardhat");
  await hre.tasks.getTask("build").run({ quiet: true });
}
