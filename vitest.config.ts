import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Contract tests import "hardhat", which finds its config through this variable.
    env: { HARDHAT_CONFIG: fileURLToPath(new URL("./hardhat.config.ts", import.meta.url)), CI: "true" },
    globalSetup: ["./test/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
