import { createRequire } from "node:module";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import { defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);
// solc comes from the npm `solc` package (pinned exactly in package.json), never downloaded: the
// version is read from that package so the compiler file and the declared version cannot disagree.
const SOLC_VERSION: string = require("solc/package.json").version;
const SOLJSON_PATH = require.resolve("solc/soljson.js");

export default defineConfig({
  plugins: [hardhatEthers],
  solidity: {
    compilers: [
      {
        version: SOLC_VERSION,
        path: SOLJSON_PATH,
        settings: { evmVersion: "cancun", optimizer: { enabled: true, runs: 10_000 } },
      },
    ],
  },
  paths: { tests: { solidity: "contracts/test" } },
});
