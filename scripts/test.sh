#!/bin/sh
# The whole test suite (what `npm test` runs): lint and format check, type check and build (the CLI
# tests run the built bin), then every vitest test, contract tests included.
set -e
biome check --error-on-warnings .
tsc -p tsconfig.json --noEmit
tsc -p tsconfig.build.json
vitest run
